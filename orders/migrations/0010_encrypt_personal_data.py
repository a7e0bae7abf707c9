"""Encrypt the orders' personal data at rest (utilities/encrypted_fields.py).

The customer's name, e-mail and the notes become ciphertext under the first key of
``FIELD_ENCRYPTION_KEYS`` (text columns: ciphertext is longer than the 255 characters the
names had), and the e-mail's keyed hash fills ``customer_email_hash``, whose index replaces
the index on the e-mail (which the database can no longer compare). Reversible: going back
decrypts the rows, then the columns return to what they were.
"""

from django.db import migrations, models

import utilities.encrypted_fields

ENCRYPT, DECRYPT = utilities.encrypted_fields.encrypt_rows_operations(
    "orders_order",
    ["customer_name", "customer_email", "notes"],
    hashes={"customer_email_hash": "customer_email"},
)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0009_awaiting_approval"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="order",
            name="orders_customer_email_idx",
        ),
        migrations.AddField(
            model_name="order",
            name="customer_email_hash",
            field=utilities.encrypted_fields.KeyedHashField(
                help_text="HMAC-SHA256 of the lower-cased e-mail address (FIELD_HASH_KEY), "
                "for lookups.",
                source="customer_email",
                verbose_name="customer e-mail hash",
            ),
        ),
        migrations.AlterField(
            model_name="order",
            name="customer_email",
            field=utilities.encrypted_fields.EncryptedEmailField(blank=True, max_length=255),
        ),
        migrations.AlterField(
            model_name="order",
            name="customer_name",
            field=utilities.encrypted_fields.EncryptedCharField(max_length=255),
        ),
        migrations.AlterField(
            model_name="order",
            name="notes",
            field=utilities.encrypted_fields.EncryptedTextField(blank=True),
        ),
        migrations.RunPython(ENCRYPT, DECRYPT, elidable=False),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                fields=["customer_email_hash"], name="orders_customer_email_hash_idx"
            ),
        ),
    ]
