"""Encrypt the browsers' Web Push keys at rest (utilities/encrypted_fields.py); reversible."""

from django.db import migrations

import utilities.encrypted_fields

ENCRYPT, DECRYPT = utilities.encrypted_fields.encrypt_rows_operations(
    "notifications_pushsubscription", ["p256dh", "auth"]
)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_approval_kinds"),
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
        migrations.RunPython(ENCRYPT, DECRYPT, elidable=False),
    ]
