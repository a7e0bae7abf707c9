"""The dashboard's order counters per status, kept as they change instead of counted each time.

``selectors.status_counters`` used to run one ``GROUP BY status`` over every order the viewer
may see: a scan that grows with the orders (every completed order stays). Here each change of
an order's status or of who may see it (its creator, its assignee) appends one row per scope
it concerns: ``-1`` for what it was, ``+1`` for what it is. A scope is "every order" (``0``,
what the roles with ``view_all_orders`` see) or one user's own orders (the user's id: orders
they created or are assigned to, counted once when both), exactly the access rule's two
scopes for viewing (``utilities.access.order_scope``). Reading a scope sums its rows
(``OrderStatusTally``, indexed by scope and status); ``compact`` (beat, every minute) folds
them into one row per scope and status, so a read touches at most the statuses plus the
changes of the last minute, however many orders there are.

Appending rather than updating a counter row keeps concurrent transactions from queueing on
one hot row (or deadlocking on two) until they commit. The rows are written in the same
transaction as the order, by the model (``Order.save``, a deletion, ``OrderQuerySet.update``
and ``bulk_create``), so no write path of the ORM can forget them; raw SQL would, and
``rebuild`` recounts from the orders (the migration that made the table runs it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, Sum

#: The scope of "every order".
ALL = 0

#: What decides an order's counters: (status, created_by_id, assigned_to_id).
Key = tuple[str, int | None, int | None]

#: The fields of ``Key``; a save or update naming none of them changes no counter.
FIELDS = frozenset({"status", "created_by", "created_by_id", "assigned_to", "assigned_to_id"})

#: Any number: the lock that keeps two compactions from folding the same rows twice.
_COMPACT_LOCK = 0x52_4B_48_54  # "RKHT"


def scopes(key: Key) -> set[int]:
    """The scopes an order with ``key`` counts in: every order, and each of its people once."""
    _status, created_by, assigned_to = key
    return {ALL} | {pk for pk in (created_by, assigned_to) if pk is not None}


def deltas(old: Iterable[Key], new: Iterable[Key]) -> Counter[tuple[int, str]]:
    """The changes per (scope, status) of orders moving from ``old`` keys to ``new`` ones."""
    change: Counter[tuple[int, str]] = Counter()
    for key in old:
        for scope in scopes(key):
            change[(scope, key[0])] -= 1
    for key in new:
        for scope in scopes(key):
            change[(scope, key[0])] += 1
    return change


def record(old: Iterable[Key], new: Iterable[Key]) -> None:
    """Append the rows of a change (nothing when the counters do not move)."""
    from .models import OrderStatusTally

    rows = [
        OrderStatusTally(scope=scope, status=status, delta=n)
        for (scope, status), n in sorted(deltas(old, new).items())
        if n
    ]
    if rows:
        OrderStatusTally.objects.bulk_create(rows)


def counts(scope: int) -> dict[str, int]:
    """Orders per status in ``scope`` (statuses with none left out): one indexed query."""
    from .models import OrderStatusTally

    rows = (
        OrderStatusTally.objects.filter(scope=scope)
        .order_by()
        .values_list("status")
        .annotate(n=Sum("delta"))
        .values_list("status", "n")
    )
    return {status: n for status, n in rows if n}


def scope_of(user: Any, rule: Q | None) -> int | None:
    """The tally scope matching the access rule's view filter ``rule`` for ``user``; ``None``
    when the rule is one the tallies do not keep (the caller then counts the orders)."""
    if rule == Q():
        return ALL
    if rule == Q(created_by=user) | Q(assigned_to=user):
        return user.pk
    return None


@transaction.atomic
def compact() -> int:
    """Fold every row into one per (scope, status); the rows removed."""
    from .models import OrderStatusTally

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_COMPACT_LOCK])
    last = OrderStatusTally.objects.order_by("-id").values_list("id", flat=True).first()
    if last is None:
        return 0
    upto = OrderStatusTally.objects.filter(id__lte=last)
    sums = list(
        upto.order_by()
        .values_list("scope", "status")
        .annotate(n=Sum("delta"), rows=Count("id"))
        .values_list("scope", "status", "n", "rows")
    )
    if all(rows == 1 for _scope, _status, _n, rows in sums):
        return 0  # already one row each
    removed, _ = upto.delete()
    OrderStatusTally.objects.bulk_create(
        OrderStatusTally(scope=scope, status=status, delta=n)
        for scope, status, n, _rows in sorted(sums)
        if n
    )
    return removed


@transaction.atomic
def rebuild() -> None:
    """Count every order again (a new installation's table, or after writes in raw SQL)."""
    from .models import Order, OrderStatusTally

    OrderStatusTally.objects.all().delete()
    groups = (
        Order.objects.order_by()
        .values_list("status", "created_by_id", "assigned_to_id")
        .annotate(n=Count("id"))
        .values_list("status", "created_by_id", "assigned_to_id", "n")
    )
    totals: Counter[tuple[int, str]] = Counter()
    for status, created_by, assigned_to, n in groups:
        for scope in scopes((status, created_by, assigned_to)):
            totals[(scope, status)] += n
    OrderStatusTally.objects.bulk_create(
        OrderStatusTally(scope=scope, status=status, delta=n)
        for (scope, status), n in sorted(totals.items())
    )
