"""Keep ``is_staff`` in step with the user's role.

The admin is the managers' back office, so Admin and Manager members need
``is_staff``; everybody else must not have it. Doing it on group membership
change means it holds whether roles are set in the admin, a command or a test.
"""

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from .api_keys import forget_checked_keys
from .models import ApiKey, User
from .roles import STAFF_ROLES


def sync_staff(user: User) -> None:
    """Set ``is_staff`` from the user's roles (and superuser flag)."""
    should_be_staff = user.is_superuser or user.groups.filter(name__in=STAFF_ROLES).exists()
    if user.is_staff != should_be_staff:
        user.is_staff = should_be_staff
        user.save(update_fields=["is_staff"])


@receiver(m2m_changed, sender=User.groups.through)
def sync_staff_flag(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if not reverse:  # user.groups.add/remove/clear/set
        if action in {"post_add", "post_remove", "post_clear"}:
            sync_staff(instance)
        return
    # group.user_set.*: the users affected are in pk_set, except on clear.
    if action == "pre_clear":
        instance._rkh_cleared_user_ids = list(instance.user_set.values_list("pk", flat=True))
        return
    if action == "post_clear":
        pk_set = set(getattr(instance, "_rkh_cleared_user_ids", []))
    elif action not in {"post_add", "post_remove"}:
        return
    for user in User.objects.filter(pk__in=pk_set or []):
        sync_staff(user)


@receiver(post_save, sender=ApiKey)
@receiver(post_delete, sender=ApiKey)
@receiver(post_save, sender=User)
@receiver(post_delete, sender=User)
@receiver(m2m_changed, sender=User.groups.through)
@receiver(m2m_changed, sender=User.user_permissions.through)
@receiver(m2m_changed, sender=Group.permissions.through)
def withdraw_checked_keys(sender, **kwargs) -> None:
    """Anything that can revoke a key or change its user's rights: every process checks keys
    against the database again (``accounts.api_keys``). Now, and again once the change is
    committed: a request between the two could have remembered the row as it was before."""
    if str(kwargs.get("action", "post_")).startswith("pre_"):
        return
    forget_checked_keys()
    transaction.on_commit(forget_checked_keys)
