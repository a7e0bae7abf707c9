"""Writing one column of many rows, each its own value, in one statement that is cheap to build.

Django's ``bulk_update`` builds ``SET col = CASE WHEN id = 1 THEN … WHEN id = 2 THEN … END``
out of ORM expressions, one ``When`` per row, resolved and compiled in Python. For the PMR
drain, which records every batch of answers this way while its upload threads wait for the
interpreter, building that statement cost more CPU than PostgreSQL spent running it
(docs/benchmarks.md, "PMR upload"). On PostgreSQL the values go as parameters of one
``UPDATE … FROM (VALUES …)`` instead; other databases (SQLite) keep ``bulk_update``.
No signals either way, as with ``bulk_update``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connections, models, router


def update_column(model: type[models.Model], field_name: str, values: Mapping[Any, Any]) -> int:
    """Set ``field_name`` of the rows of ``model`` whose pk is a key of ``values`` to that
    key's value; how many rows were updated (rows that do not exist are left out)."""
    if not values:
        return 0
    db = router.db_for_write(model)
    connection = connections[db]
    field = model._meta.get_field(field_name)
    if connection.vendor != "postgresql":
        rows = []
        for pk, value in values.items():
            row = model(pk=pk)
            setattr(row, field.attname, value)
            rows.append(row)
        return model._default_manager.using(db).bulk_update(rows, [field.attname])
    pk = model._meta.pk
    quote = connection.ops.quote_name
    column_type, pk_type = field.db_type(connection), pk.db_type(connection)
    params: list[Any] = []
    rows_sql = []
    for key, value in values.items():
        rows_sql.append(f"(%s::{pk_type}, %s::{column_type})")
        params += [
            pk.get_db_prep_value(key, connection),
            field.get_db_prep_save(value, connection),
        ]
    table = quote(model._meta.db_table)
    # Identifiers from the model's own metadata, quoted; every value is a parameter.
    sql = (
        f"UPDATE {table} SET {quote(field.column)} = v.value "  # noqa: S608
        f"FROM (VALUES {', '.join(rows_sql)}) AS v(pk, value) "
        f"WHERE {table}.{quote(pk.column)} = v.pk"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
