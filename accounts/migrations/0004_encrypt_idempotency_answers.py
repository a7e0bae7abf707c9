"""Encrypt at rest the API answers kept for ``Idempotency-Key`` replays (they hold customers'
names and e-mails); reversible."""

from django.db import migrations

import utilities.encrypted_fields

ENCRYPT, DECRYPT = utilities.encrypted_fields.encrypt_rows_operations(
    "accounts_idempotencyrecord", ["body"]
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_api_keys_idempotency"),
    ]

    operations = [
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="body",
            field=utilities.encrypted_fields.EncryptedTextField(blank=True),
        ),
        migrations.RunPython(ENCRYPT, DECRYPT, elidable=False),
    ]
