"""``seed_demo``: one user per role, a few events and orders, for trying the product.

Refused when DEBUG is off: demo passwords are public. Idempotent: what exists
is left alone, so running it twice changes nothing.

``--first-run`` is how ``make run`` calls it, from the web process once the
database and Redis answer (the Procfile): it does nothing with DEBUG off or when
``var/.demo-seeded`` says it ran before, and it first gives the local PMR
simulator (started alongside) a moment to answer, so the demo orders are checked
against it instead of being made "offline" and tripping the PMR's circuit.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from accounts.roles import ADMIN, MANAGER, USER, VIEWER
from events import lookups
from events.models import Event
from orders import services as order_services
from orders.models import Order
from pmr.clients import PMRError
from utilities import config

#: Marker of a seeded database, beside it in the var folder (``make run``'s SQLite).
SEEDED_MARKER = ".demo-seeded"

#: username -> (role, password, display name). Documented in the README.
DEMO_USERS = {
    "admin": (ADMIN, "rkh-demo-admin", "Ada Admin"),
    "manager": (MANAGER, "rkh-demo-manager", "Max Manager"),
    "user": (USER, "rkh-demo-user", "Uma User"),
    "viewer": (VIEWER, "rkh-demo-viewer", "Vic Viewer"),
}

DEMO_EVENTS = [
    ("EVT-2026-WED-0142", "Lindqvist-Okafor wedding", Event.Type.WEDDING, 21),
    ("EVT-2026-SCH-0307", "Northfield Primary school day", Event.Type.SCHOOL, 9),
    ("EVT-2026-SPO-0019", "City marathon finish line", Event.Type.SPORTS, 3),
]

# (event index, customer, email, created by, assigned to, status)
DEMO_ORDERS = [
    (0, "Lena Lindqvist", "lena@example.com", "user", None, Order.Status.DRAFT),
    (1, "Northfield PTA", "pta@northfield.example", "user", None, Order.Status.PENDING),
    (2, "Marathon Club", "photos@marathon.example", "manager", "user", Order.Status.PENDING),
    (0, "Okafor family", "okafor@example.com", "manager", None, Order.Status.DRAFT),
    (2, "Runner 4471", "runner4471@example.com", "manager", None, Order.Status.PENDING),
]


class Command(BaseCommand):
    help = "Create demo users (one per role), events and orders. Only with DEBUG on."

    def add_arguments(self, parser):
        parser.add_argument(
            "--first-run",
            action="store_true",
            help="only if never seeded here and DEBUG is on (make run); otherwise do nothing",
        )
        parser.add_argument(
            "--wait-pmr",
            type=float,
            default=30.0,
            help="with --first-run: seconds to wait for the PMR to answer first",
        )

    def handle(self, *args, first_run: bool = False, wait_pmr: float = 30.0, **options):
        marker = config.var_dir() / SEEDED_MARKER
        if first_run and (not settings.DEBUG or marker.exists()):
            return
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo is refused when DEBUG is off: the demo passwords are public."
            )
        if first_run:
            self._wait_for_pmr(wait_pmr)
        with transaction.atomic():
            users = self._users()
            events = self._events()
            self._orders(users, events)
        if first_run:
            marker.touch()

    def _wait_for_pmr(self, seconds: float) -> None:
        """Give a PMR starting beside us (the simulator) time to answer; go on regardless."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                lookups.health()
                return
            except PMRError:
                if time.monotonic() > deadline:
                    self.stdout.write("the PMR does not answer; demo orders are made offline")
                    return
                time.sleep(0.5)

    def _users(self) -> dict[str, User]:
        users = {}
        for username, (role, password, display_name) in DEMO_USERS.items():
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(
                    username=username,
                    email=f"{username}@rkh.example",
                    display_name=display_name,
                )
                user.set_password(password)
                user.save()
                account_services.set_role(user, role)
                self.stdout.write(f"created user {username} ({role})")
            users[username] = user
        return users

    def _events(self) -> list[Event]:
        today = date.today()
        events = []
        for event_id, name, kind, days_ago in DEMO_EVENTS:
            event, created = Event.objects.get_or_create(
                event_id=event_id,
                defaults={
                    "name": name,
                    "event_type": kind,
                    "date": today - timedelta(days=days_ago),
                    "customer_id": f"CUST-{event_id[-4:]}",
                    "metadata": {"demo": True},
                },
            )
            if created:
                self.stdout.write(f"created event {event_id}")
            events.append(event)
        return events

    def _orders(self, users: dict[str, User], events: list[Event]) -> None:
        if Order.objects.filter(metadata__demo=True).exists():
            return
        for event_index, customer, email, creator, assignee, status in DEMO_ORDERS:
            order = order_services.create_order(
                actor=users[creator],
                event=events[event_index],
                customer_name=customer,
                customer_email=email,
                assigned_to=users[assignee] if assignee else None,
                order_date=timezone.now(),
                metadata={"demo": True},
            )
            if status != order.status:
                order_services.change_order_status(order, status, actor=users[creator])
            self.stdout.write(f"created order {order.order_ref} for {customer}")
