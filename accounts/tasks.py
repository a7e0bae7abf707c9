"""Periodic housekeeping for accounts and the audit trail."""

from celery import shared_task

from . import idempotency, services


@shared_task
def purge_old_audit_entries() -> int:
    """Retention for the audit log, so it cannot grow without bound."""
    return services.purge_old_audit_entries()


@shared_task
def purge_idempotency_records() -> int:
    """Forget ``Idempotency-Key``s after ``API_IDEMPOTENCY_HOURS`` (the table stays small)."""
    return idempotency.purge_expired()
