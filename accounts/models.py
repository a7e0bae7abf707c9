"""The user model of the project.

A custom model from the first migration, so profile fields can be added later
without the painful swap from ``auth.User``. Roles are Django groups (see
``accounts.roles``), not a column, so permissions stay Django's own.
"""

from __future__ import annotations

from auditlog.registry import auditlog
from django.contrib.auth.models import AbstractUser, Group, UserManager
from django.db import models
from django.db.models.functions import Lower
from rest_framework_api_key.models import AbstractAPIKey

from utilities.encrypted_fields import EncryptedTextField

from . import roles


class User(AbstractUser):
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(
        max_length=150, blank=True, help_text="Name shown in pages and timelines."
    )
    settings = models.JSONField(
        default=dict, blank=True, help_text="Per-user preferences (page size, notifications…)."
    )

    objects = UserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = "user"
        verbose_name_plural = "users"
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    @property
    def role(self) -> str | None:
        """The user's highest role, for display."""
        return roles.role_of(self)


class ApiKey(AbstractAPIKey):
    """A key an external system sends as ``Authorization: Api-Key <key>``.

    Only the key's SHA-512 is stored (``hashed_key``; the first eight
    characters, ``prefix``, find the row). A key acts as its ``user``, with
    that user's role, so taking the role away or deactivating the user stops
    the key too. Made in the admin or by ``manage.py create_api_key``; see
    ``accounts.api_keys``.
    """

    user = models.ForeignKey(
        "accounts.User",
        on_delete=models.CASCADE,
        related_name="api_keys",
        help_text="The key acts as this user, with their role.",
    )
    last_used_at = models.DateTimeField(
        "last used",
        null=True,
        blank=True,
        editable=False,
        help_text="Updated once a minute at most.",
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"


class IdempotencyRecord(models.Model):
    """The first answer to a create request sent with an ``Idempotency-Key``.

    Inserted in the same transaction as the object the request creates; the
    unique ``(user, key)`` makes a concurrent duplicate wait for that
    transaction and then replay its answer instead of creating a second
    object. Rows older than ``API_IDEMPOTENCY_HOURS`` are ignored and purged.
    See ``accounts.idempotency``.
    """

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of method, path and body of the first request."
    )
    status_code = models.PositiveSmallIntegerField(null=True)
    headers = models.JSONField(default=dict, help_text="Content-Type and Location of the answer.")
    # The answer replayed: an order with its customer's name and e-mail, say. Encrypted at
    # rest like the order itself (utilities/encrypted_fields.py).
    body = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


# --- audit ------------------------------------------------------------------
# Who changed a user, their roles (group membership) or a role's permissions is
# recorded with actor and IP by auditlog's middleware. Passwords are masked;
# last_login is left out because every sign-in would write an entry.
def _register_audit() -> None:
    auditlog.register(
        User, m2m_fields={"groups"}, mask_fields=["password"], exclude_fields=["last_login"]
    )
    auditlog.register(Group, m2m_fields={"permissions"})
    # Who made or revoked a key; the hash and the use time are not worth an entry.
    auditlog.register(ApiKey, exclude_fields=["hashed_key", "last_used_at"])


_register_audit()
