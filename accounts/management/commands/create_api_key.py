"""``create_api_key USER --name NAME``: make an API key for an external system.

The key is printed once, on standard output alone (so ``KEY=$(…)`` captures
it), and only its hash is stored: it cannot be shown again, only revoked
(admin, "API keys") and replaced. The key acts as USER, with USER's role:
give integrations a user of their own, with the least role that does the job.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone

from accounts import api_keys
from accounts.models import ApiKey, User
from accounts.roles import role_of

NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length


class Command(BaseCommand):
    help = "Create an API key acting as USER (username or e-mail); prints the key once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="username or e-mail address of an active user")
        parser.add_argument(
            "--name", required=True, help=f"what the key is for (up to {NAME_MAX_LENGTH} chars)"
        )
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="the key stops working after this"
        )

    def handle(self, *args, **options) -> None:
        name = options["name"].strip()
        if not name or len(name) > NAME_MAX_LENGTH:
            raise CommandError(f"--name must be 1 to {NAME_MAX_LENGTH} characters.")
        ident = options["user"].strip()
        user = User.objects.filter(Q(username=ident) | Q(email__iexact=ident)).first()
        if user is None:
            raise CommandError(f"No user {ident!r}.")
        if not user.is_active:
            raise CommandError(f"User {user.username} is inactive; their key would not work.")
        days = options["expires_in_days"]
        if days is not None and days <= 0:
            raise CommandError("--expires-in-days must be a positive number of days.")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        api_key, raw = api_keys.create_key(user, name, expires_at=expires_at)
        role = role_of(user) or "no role"
        self.stderr.write(
            f"API key {api_key.prefix}… ({name!r}) for {user.username} ({role})"
            + (f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "")
            + ". Store it now: it is not shown again.\n"
            "Send it as the header  Authorization: Api-Key <key>"
        )
        self.stdout.write(raw)
