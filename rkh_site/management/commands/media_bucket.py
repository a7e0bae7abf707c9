"""Make the media bucket of ``MEDIA_STORAGE=s3`` if it does not exist yet (idempotent).

Run once per deployment, before web and workers start (docker-compose runs it in the
``migrate`` service): a fresh object store (MinIO) has no bucket, and every upload would fail.
With local media it does nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the media bucket when MEDIA_STORAGE=s3 and it is missing."

    def handle(self, *args, **options):
        if settings.MEDIA_STORAGE != "s3":
            self.stdout.write("Media are on local disk (MEDIA_STORAGE=local): nothing to do.")
            return
        from botocore.exceptions import BotoCoreError, ClientError

        bucket = default_storage.bucket  # type: ignore[attr-defined]
        client = default_storage.connection.meta.client  # type: ignore[attr-defined]
        try:
            client.head_bucket(Bucket=bucket.name)
            self.stdout.write(f"Media bucket {bucket.name} exists.")
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise CommandError(f"Media bucket {bucket.name}: {exc}") from exc
        except BotoCoreError as exc:
            raise CommandError(f"The object store does not answer: {exc}") from exc
        client.create_bucket(Bucket=bucket.name)
        self.stdout.write(f"Media bucket {bucket.name} created.")
