"""What the simulated PMR knows on a fresh start: the demo's events and customers.

The values are copied from ``rkh_site/management/commands/seed_demo.py`` (``DEMO_EVENTS``, the
customer id rule ``CUST-<last four of the Event ID>`` and the ``DEMO_ORDERS`` customers), not
imported, because the simulator must not load Django. Keep the two in step when the demo
changes. One extra *closed* event shows the ``409 event_closed`` path.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

# (event_id, name, type, days before today, customer_id) - the first three as in seed_demo.
DEMO_EVENTS: list[tuple[str, str, str, int, str]] = [
    ("EVT-2026-WED-0142", "Lindqvist-Okafor wedding", "wedding", 21, "CUST-0142"),
    ("EVT-2026-SCH-0307", "Northfield Primary school day", "school", 9, "CUST-0307"),
    ("EVT-2026-SPO-0019", "City marathon finish line", "sports", 3, "CUST-0019"),
]
CLOSED_EVENT = ("EVT-2025-WED-0999", "Archived wedding", "wedding", 420, "CUST-0999")

# customer_id, name, email, phone (phones from Ofcom's drama range, never real)
DEMO_CUSTOMERS: list[tuple[str, str, str, str | None]] = [
    ("CUST-0142", "Lena Lindqvist", "lena@example.com", "+44 20 7946 0142"),
    ("CUST-0307", "Northfield PTA", "pta@northfield.example", "+44 20 7946 0307"),
    ("CUST-0019", "Marathon Club", "photos@marathon.example", "+44 20 7946 0019"),
    ("CUST-0143", "Okafor family", "okafor@example.com", None),
    ("CUST-4471", "Runner 4471", "runner4471@example.com", None),
    ("CUST-0999", "Hartmann family", "hartmann@example.com", "+44 20 7946 0999"),
]


def seed_events(today: date | None = None) -> dict[str, dict[str, Any]]:
    """The demo events (open) and the archived one (closed), by Event ID."""
    today = today or date.today()
    events: dict[str, dict[str, Any]] = {}
    for (event_id, name, kind, days_ago, customer_id), status in [
        *((row, "open") for row in DEMO_EVENTS),
        (CLOSED_EVENT, "closed"),
    ]:
        events[event_id] = {
            "event_id": event_id,
            "name": name,
            "date": (today - timedelta(days=days_ago)).isoformat(),
            "type": kind,
            "customer_id": customer_id,
            "status": status,
        }
    return events


def seed_customers() -> dict[str, dict[str, Any]]:
    return {
        customer_id: {"customer_id": customer_id, "name": name, "email": email, "phone": phone}
        for customer_id, name, email, phone in DEMO_CUSTOMERS
    }
