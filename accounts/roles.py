"""The four roles and exactly what each may do.

Roles are Django groups. This module is the single definition of their
permissions: a data migration creates the groups, and every ``migrate`` brings
them back to exactly this list (new models' permissions are added here, in the
same change that adds the model). Admins assign roles to users; they do not
edit the roles themselves.

What a permission allows on a particular order (own, assigned or all) is
decided in ``utilities.access``, from these permissions.
"""

from __future__ import annotations

from typing import Any

ADMIN = "Admin"
MANAGER = "Manager"
USER = "User"
VIEWER = "Viewer"

#: Highest first: a user in several groups is shown with the first that matches.
ROLES = (ADMIN, MANAGER, USER, VIEWER)

#: Roles whose members may sign in to the Django admin (the back office).
STAFF_ROLES = frozenset({ADMIN, MANAGER})

ALL_PERMISSIONS = "__all__"

_ORDER_WORK = {
    "orders.view_order",
    "orders.add_order",
    "orders.change_order",
    "orders.process_order",
    "orders.view_image",
    "orders.add_image",
    "orders.change_image",
    "orders.view_orderevent",
    "ai_processing.view_processingpreset",
}

ROLE_PERMISSIONS: dict[str, Any] = {
    ADMIN: ALL_PERMISSIONS,
    MANAGER: _ORDER_WORK
    | {
        "orders.view_all_orders",
        "orders.manage_all_orders",
        "orders.assign_order",
        "orders.view_analytics",
        "events.view_event",
        "events.add_event",
        "events.change_event",
        "events.delete_event",
        "ai_processing.add_processingpreset",
        "ai_processing.change_processingpreset",
        "ai_processing.delete_processingpreset",
        # The print sizes the studio sells (docs/prints.md).
        "orders.view_printsize",
        "orders.add_printsize",
        "orders.change_printsize",
        "orders.delete_printsize",
        "auditlog.view_logentry",
        "accounts.view_user",
        # The PMR outbox and deliveries: watch, retry, skip (docs/pmr.md "Manual override").
        "pmr.view_outboxentry",
        "pmr.change_outboxentry",
        "pmr.view_orderdelivery",
        "pmr.view_webhookdelivery",
        # Told when an AI provider or the PMR is down (docs/notifications.md).
        "notifications.receive_service_alerts",
        # The optional e-mail to the customer on delivery: its text and where it is on.
        "notifications.view_customeremailtemplate",
        "notifications.change_customeremailtemplate",
        "notifications.view_customeremailswitch",
        "notifications.add_customeremailswitch",
        "notifications.change_customeremailswitch",
        "notifications.delete_customeremailswitch",
        "notifications.view_customeremail",
    },
    USER: _ORDER_WORK | {"events.view_event"},
    VIEWER: {
        "orders.view_order",
        "orders.view_all_orders",
        "orders.view_analytics",
        "orders.view_image",
        "orders.view_orderevent",
        "events.view_event",
        "ai_processing.view_processingpreset",
    },
}


def role_of(user) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return ADMIN
    names = {g.name for g in user.groups.all()}
    return next((role for role in ROLES if role in names), None)


def _ensure_permissions(apps) -> None:
    """Create model permissions now: on a fresh database they are otherwise
    only made after the last migration, too late for the role migration."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None


def sync_roles(apps=None) -> None:
    """Make each role group hold exactly its permissions."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    else:
        _ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        if wanted == ALL_PERMISSIONS:
            perms = list(Permission.objects.all())
        else:
            perms = []
            for dotted in sorted(wanted):
                app_label, codename = dotted.split(".", 1)
                perm = Permission.objects.filter(
                    content_type__app_label=app_label, codename=codename
                ).first()
                if perm is not None:  # a later app's model may not be migrated yet
                    perms.append(perm)
        group.permissions.set(perms)


def sync_roles_after_migrate(sender, using=None, **kwargs) -> None:
    """post_migrate receiver: keep the groups exact after every migrate.

    It runs in the accounts app's turn, before the apps listed after it have
    had their permissions made (a new model's, or all of them after a
    ``flush``): make every app's permissions first, or the roles would miss them.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions
    from django.db import DEFAULT_DB_ALIAS

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using or DEFAULT_DB_ALIAS)
    sync_roles()
