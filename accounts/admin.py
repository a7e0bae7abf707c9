"""User admin: admins assign roles (groups) here; every change is audited."""

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Count
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from . import api_keys
from .models import ApiKey, User
from .roles import ADMIN, ROLES, role_of
from .signals import sync_staff


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [(r, r) for r in ROLES] + [("none", "No role")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.exclude(groups__name__in=ROLES)
        if self.value():
            return queryset.filter(groups__name=self.value())
        return queryset


@admin.register(User)
class UserAdmin(AuditlogHistoryAdminMixin, DjangoUserAdmin):
    list_display = ("username", "email", "display_name", "roles", "is_active", "last_login")
    list_filter = (RoleFilter, "is_active", "is_staff", "is_superuser")
    search_fields = ("username", "email", "display_name", "first_name", "last_name")
    date_hierarchy = "date_joined"
    ordering = ("username",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("display_name", "first_name", "last_name", "email", "settings")}),
        (
            "Role",
            {
                "fields": ("groups", "is_active"),
                "description": "Give each person one role: Admin, Manager, User or Viewer. "
                "Admins and Managers get back-office access automatically.",
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    #: Only a superuser may make another: roles are the way to give rights, and
    #: per-user permissions are not offered at all (they would bypass the roles).
    superuser_fieldset = ("Superuser", {"classes": ("collapse",), "fields": ("is_superuser",)})
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "password1", "password2", "groups"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")
    filter_horizontal = ("groups",)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and request.user.is_superuser:
            fieldsets = (*fieldsets, self.superuser_fieldset)
        return fieldsets

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            kwargs["queryset"] = Group.objects.filter(name__in=ROLES).order_by("name")
            kwargs["help_text"] = "Admin, Manager, User or Viewer."
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # is_staff follows the role; also when only is_superuser changed.
        sync_staff(form.instance)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="roles")
    def roles(self, obj: User) -> str:
        return ", ".join(sorted(g.name for g in obj.groups.all())) or "—"


# Roles are defined in code (accounts.roles) and restored on every migrate, so
# the group admin only shows them: an edit here would silently be undone.
admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = ("name", "members", "permission_count")
    search_fields = ("name",)
    fields = ("name", "permissions")
    readonly_fields = ("name", "permissions")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_members=Count("user", distinct=True), n_perms=Count("permissions", distinct=True)
            )
        )

    @admin.display(description="members", ordering="n_members")
    def members(self, obj) -> int:
        return obj.n_members

    @admin.display(description="permissions", ordering="n_perms")
    def permission_count(self, obj) -> int:
        return obj.n_perms

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- API keys -------------------------------------------------------------------------
# The package registers its own APIKey model's admin; this project uses ApiKey
# (with a user), so that one would only show an empty, unused table.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    """Keys of external systems: Admin role only.

    The key is shown once, in the message after "Save" (the package's
    ``save_model``); only its hash is stored. Revoking cannot be undone.
    """

    list_display = ("name", "prefix", "user", "created", "last_used_at", "expiry_date", "revoked")
    list_filter = ("revoked", "created")
    search_fields = ("name", "prefix", "user__username", "user__email")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    actions = ("revoke_keys",)
    date_hierarchy = "created"

    def get_fields(self, request, obj=None):
        fields = ["name", "user", "expiry_date", "revoked"]
        if obj is not None:
            fields += ["prefix", "created", "last_used_at"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = ["prefix", "created", "last_used_at"]
        if obj is not None:
            readonly.append("user")  # a key never changes hands: make a new one
            if obj.revoked:
                readonly += ["name", "expiry_date", "revoked"]
        return readonly

    def _is_admin(self, request) -> bool:
        return request.user.is_active and role_of(request.user) == ADMIN

    def has_module_permission(self, request):
        return self._is_admin(request)

    def has_view_permission(self, request, obj=None):
        return self._is_admin(request)

    def has_add_permission(self, request):
        return self._is_admin(request)

    def has_change_permission(self, request, obj=None):
        return self._is_admin(request)

    def has_delete_permission(self, request, obj=None):
        return self._is_admin(request)

    @admin.action(description="Revoke selected API keys (cannot be undone)")
    def revoke_keys(self, request, queryset):
        count = 0
        for key in queryset.filter(revoked=False):
            api_keys.revoke(key)
            count += 1
        self.message_user(request, f"{count} API key(s) revoked.")
