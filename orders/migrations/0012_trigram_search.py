"""Trigram (pg_trgm) GIN indexes for the order search on PostgreSQL.

The order list and the API search ``order_ref`` and the event's ``event_id`` by any part
(``icontains``, which PostgreSQL runs as ``UPPER(col) LIKE UPPER('%term%')``): without an
index that is a scan of every order. An index on ``UPPER(col) gin_trgm_ops`` serves exactly
that expression. SQLite (``make run``) keeps its plain search.

``CREATE EXTENSION`` needs a privileged role: where the app's role may not create it (and an
administrator has not), the indexes are left out with a warning, and search still works, by
a scan. Not in the models' ``Meta.indexes``: SQLite has no such index.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, migrations, transaction

log = logging.getLogger(__name__)

INDEXES = (
    ("orders_order_ref_trgm", "orders_order", "order_ref"),
    ("events_event_id_trgm", "events_event", "event_id"),
)


def create(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        log.warning("No trigram indexes for the order search (pg_trgm unavailable: %s)", exc)
        return
    with connection.cursor() as cursor:
        for name, table, column in INDEXES:
            cursor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
                f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
            )


def drop(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name, _table, _column in INDEXES:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0011_merge_encryption_and_retention"),
        ("events", "0003_event_retention_days"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
