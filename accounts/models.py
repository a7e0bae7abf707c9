"""The user model of the project.

A custom model from the first migration, so profile fields can be added later
without the painful swap from ``auth.User``. Roles are Django groups (see
``accounts.roles``), not a column, so permissions stay Django's own.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


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
        from .roles import role_of

        return role_of(self)


# --- audit ------------------------------------------------------------------
# Who changed a user, their roles (group membership) or a role's permissions is
# recorded with actor and IP by auditlog's middleware. Passwords are masked;
# last_login is left out because every sign-in would write an entry.
def _register_audit() -> None:
    from auditlog.registry import auditlog
    from django.contrib.auth.models import Group

    auditlog.register(
        User, m2m_fields={"groups"}, mask_fields=["password"], exclude_fields=["last_login"]
    )
    auditlog.register(Group, m2m_fields={"permissions"})


_register_audit()
