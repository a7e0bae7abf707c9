"""What every test that runs an order end to end can ask of its timeline.

The scan in ``tests/orders/test_timeline_sentences.py`` finds the kinds the code passes to
``record_event``; this checks the rows a real run left in the database: each kind is
registered (with its constant, in its app's ``timeline`` module) and each entry reads as a
sentence of its own, not the fallback for unknown kinds nor a code.
"""

from __future__ import annotations

import re

from orders import timeline
from orders.models import Order

#: A code in a sentence: "pmr.delivered", "needs_review", "on_hold", "synced to pmr".
CODE = re.compile(r"\b(order|image|pmr|ai)\.[a-z_]+\b|\b[a-z]+_[a-z_]+\b|\bsynced\b|\bpmr\b")


def assert_timeline_reads_well(order: Order) -> set[str]:
    """Every entry of the order, read as its page reads it; returns the kinds found."""
    entries, more = timeline.entries_after(order.pk, limit=10_000)
    assert entries
    assert not more
    registered = timeline.registered_kinds()
    for entry in entries:
        assert entry.kind in registered, f"#{entry.seq} {entry.kind} has no sentence"
        assert entry.text != timeline.fallback(entry.kind), (entry.kind, entry.payload)
        assert not CODE.search(entry.text), f"#{entry.seq} {entry.kind} reads {entry.text!r}"
        assert timeline.entry_json(entry)["text"] == entry.text
    return {entry.kind for entry in entries}
