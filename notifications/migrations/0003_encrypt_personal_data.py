"""Encrypt at rest the browsers' Web Push keys and the customer e-mails' copies of the
customer's address and text (utilities/encrypted_fields.py); drop the address from the
"e-mail sent to the customer" timeline entries (plain JSON; the address is the order's).
Reversible, except that the timeline entries keep no address."""

from django.db import migrations

import utilities.encrypted_fields

ENCRYPT_PUSH, DECRYPT_PUSH = utilities.encrypted_fields.encrypt_rows_operations(
    "notifications_pushsubscription", ["p256dh", "auth"]
)
ENCRYPT_MAIL, DECRYPT_MAIL = utilities.encrypted_fields.encrypt_rows_operations(
    "notifications_customeremail", ["to", "subject", "body"]
)


def drop_addresses_from_the_timeline(apps, schema_editor) -> None:
    OrderEvent = apps.get_model("orders", "OrderEvent")
    for entry in OrderEvent.objects.filter(kind="customer.email_sent").only("id", "payload"):
        if isinstance(entry.payload, dict) and "to" in entry.payload:
            entry.payload = {k: v for k, v in entry.payload.items() if k != "to"}
            entry.save(update_fields=["payload"])


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_approval_kinds"),
        ("orders", "0009_awaiting_approval"),
    ]

    operations = [
        migrations.AlterField(
            model_name="pushsubscription",
            name="auth",
            field=utilities.encrypted_fields.EncryptedCharField(
                max_length=100, verbose_name="auth secret"
            ),
        ),
        migrations.AlterField(
            model_name="pushsubscription",
            name="p256dh",
            field=utilities.encrypted_fields.EncryptedCharField(
                max_length=200, verbose_name="public key (p256dh)"
            ),
        ),
        migrations.RunPython(ENCRYPT_PUSH, DECRYPT_PUSH, elidable=False),
        migrations.AlterField(
            model_name="customeremail",
            name="to",
            field=utilities.encrypted_fields.EncryptedEmailField(max_length=254),
        ),
        migrations.AlterField(
            model_name="customeremail",
            name="subject",
            field=utilities.encrypted_fields.EncryptedCharField(max_length=300),
        ),
        migrations.AlterField(
            model_name="customeremail",
            name="body",
            field=utilities.encrypted_fields.EncryptedTextField(),
        ),
        migrations.RunPython(ENCRYPT_MAIL, DECRYPT_MAIL, elidable=False),
        migrations.RunPython(
            drop_addresses_from_the_timeline, migrations.RunPython.noop, elidable=False
        ),
    ]
