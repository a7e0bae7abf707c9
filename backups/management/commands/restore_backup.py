"""``manage.py restore_backup [--latest | NAME] [--list] [--download] [--noinput]``: bring back the
database and the media of a backup, after checking every file against its SHA-256 manifest.

Stop the web process, the workers and beat first (docs/deployment.md "Restore"): the restore
replaces every table and every media file.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backups import catalog, offsite, services


class Command(BaseCommand):
    help = (
        "Restore the database and MEDIA_ROOT from a backup in BACKUP_DIR (checked against its "
        "SHA256SUMS first). Stop web, workers and beat before."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("name", nargs="?", help="the backup's name, e.g. rkh-20261204-023000")
        which.add_argument("--latest", action="store_true", help="the newest complete backup")
        which.add_argument("--list", action="store_true", help="list the backups and stop")
        parser.add_argument(
            "--download",
            action="store_true",
            help="take the backup from BACKUP_S3_BUCKET (fetched into BACKUP_DIR first)",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="do not ask for confirmation",
        )

    def handle(self, *args, **options) -> None:
        if options["download"] and self._download(options):
            return
        if options["list"]:
            backups = catalog.complete()
            if not backups:
                self.stdout.write(f"No backups in {catalog.folder()}.")
            for path in reversed(backups):
                self.stdout.write(path.name)
            return
        if options["latest"]:
            path = catalog.latest()
            if path is None:
                raise CommandError(f"No complete backup in {catalog.folder()}.")
        else:
            path = catalog.find(options["name"])
            if path is None:
                raise CommandError(
                    f"No complete backup called “{options['name']}” in {catalog.folder()} "
                    "(manage.py restore_backup --list shows them)."
                )
        try:
            manifest = services.verify(path)
        except services.RestoreRefused as exc:
            raise CommandError(str(exc)) from exc
        quiet = options["verbosity"] < 1
        if not quiet:
            self.stdout.write(
                f"Backup {path.name} ({manifest['created_at']}): checksums match; "
                f"{manifest['media']['files']} media files."
            )
        if options["interactive"]:
            answer = input(
                "This replaces the whole database and every media file with the backup's. "
                "Type 'yes' to go on: "
            )
            if answer.strip().lower() != "yes":
                raise CommandError("Restore cancelled; nothing was changed.")
        try:
            restored = services.restore_backup(path)
        except services.RestoreRefused as exc:
            raise CommandError(str(exc)) from exc
        if quiet:
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored backup {restored.name} ({restored.created_at}): the database and "
                f"{restored.media_files} media files. Run “manage.py migrate” if this code is "
                "newer than the backup, then start the processes again."
            )
        )

    def _download(self, options) -> bool:
        """Fetch the named (or newest) backup from the bucket into BACKUP_DIR; ``--list``
        lists the bucket's instead (then True: nothing more to do)."""
        if not offsite.enabled():
            raise CommandError("BACKUP_S3_BUCKET is not set: there is no backup bucket.")
        try:
            remote = offsite.names()
            if options["list"]:
                for name in reversed(remote):
                    self.stdout.write(name)
                if not remote:
                    self.stdout.write("No backups in the backup bucket.")
                return True
            name = remote[-1] if options["latest"] and remote else options["name"]
            if not name:
                raise CommandError("No complete backup in the backup bucket.")
            path = offsite.download(name)
        except offsite.OffsiteError as exc:
            raise CommandError(str(exc)) from exc
        options["latest"], options["name"] = False, path.name
        return False
