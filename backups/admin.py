"""The backup record in the admin: each run, how it ended, how big; read-only (the runs are
what happened; a backup is made with ``manage.py backup`` or by beat)."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from . import status
from .models import BackupRun


@admin.register(BackupRun)
class BackupRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "status", "name", "size", "media_files", "duration", "trigger")
    list_filter = ("status", "trigger")
    search_fields = ("name", "error")
    date_hierarchy = "started_at"
    readonly_fields = (
        "name",
        "trigger",
        "status",
        "started_at",
        "finished_at",
        "size_bytes",
        "media_files",
        "error",
    )

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, run: BackupRun) -> str:
        return filesizeformat(run.size_bytes) if run.size_bytes is not None else "–"

    @admin.display(description="Took")
    def duration(self, run: BackupRun) -> str:
        seconds = run.duration_seconds
        if seconds is None:
            return "–"
        return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "backup_status": status.current()}
        return super().changelist_view(request, extra_context=extra_context)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
