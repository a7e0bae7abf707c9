"""Keep ``is_staff`` in step with the user's role.

The admin is the managers' back office, so Admin and Manager members need
``is_staff``; everybody else must not have it. Doing it on group membership
change means it holds whether roles are set in the admin, a command or a test.
"""

from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from .models import User
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
