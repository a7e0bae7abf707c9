"""Rewrite every encrypted field with the first key of FIELD_ENCRYPTION_KEYS.

The step of a key rotation that moves the stored data onto the new key (docs/deployment.md,
"Encryption at rest"): after it, the old keys can leave the list. It also recomputes the
e-mail lookup hashes, so it is the step of a FIELD_HASH_KEY change too. It lives in the
wiring because it walks the models of every app; the work is ``utilities.encrypted_fields``.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from utilities import encrypted_fields


class Command(BaseCommand):
    help = (
        "Rewrite every encrypted field with the first key of FIELD_ENCRYPTION_KEYS and "
        "recompute the e-mail lookup hashes (run after changing either key)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        models = [
            m
            for m in apps.get_models()
            if encrypted_fields.encrypted_fields_of(m) or encrypted_fields.hash_fields_of(m)
        ]
        for model in models:
            try:
                count = encrypted_fields.reencrypt(model, batch_size=batch_size)
            except encrypted_fields.UndecryptableValue as exc:
                raise CommandError(
                    f"{exc} Nothing of that batch was written; put the missing key back in "
                    "FIELD_ENCRYPTION_KEYS (after the new one) and run this again."
                ) from None
            self.stdout.write(f"{model._meta.label}: {count} rows rewritten")
        self.stdout.write(self.style.SUCCESS("Every encrypted field is under the first key."))
