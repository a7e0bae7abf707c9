"""What needs a person's attention, for the dashboard's "Needs attention" panel.

The panel shows outages and failures of every step, but ``orders`` must not
import the apps built on it (``ai_processing``, ``pmr``). So this module is a
small registry: each app registers a *provider* from its ``AppConfig.ready()``
(``register("pmr", pmr.attention.provide)``), a function that is given who is
looking (``Viewer``) and returns what it knows (``Contribution``): panel items,
and sentences for the orders that need attention (their dashboard rows and the
"Need attention" counter). ``collect`` asks every provider; a provider that
fails costs its part of the panel and a logged error, never the dashboard.

Providers read through the access rule (``viewer.orders`` / ``restrict``), keep
to a few bounded queries (the dashboard's live snapshot runs them), and write
for the viewer: links into the back office only for staff (``viewer.staff``),
to the review queue only for reviewers, "your orders" for people who see only
their own. Items must not carry values that change by themselves (a countdown):
the live dashboard sends a snapshot only when it differs from the last one.

``changed()`` rings every open dashboard to look again: for state that changes
without a timeline entry (a circuit breaker opening or closing, the PMR delivery
going offline). Timeline entries ring it already (``orders.live``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.urls import reverse
from django.utils.http import urlencode

from utilities import access

from . import live
from .guidance import when
from .models import Order

log = logging.getLogger(__name__)

#: Item levels, most urgent first: something refused or failed and needs a person;
#: an outage or backlog that clears by itself; work waiting for a person's decision.
LEVELS = ("error", "warning", "action")
#: Orders a provider flags at most (the counter shows "100+" beyond).
FLAG_LIMIT = 100
#: Orders named one by one in an item; the rest are counted.
NAMED_ORDERS = 3


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Item:
    """One line of the panel: a sentence, how urgent, and where it is fixed."""

    key: str
    level: str
    text: str
    links: tuple[Link, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "level": self.level,
            "text": self.text,
            "links": [{"label": link.label, "url": link.url} for link in self.links],
        }


@dataclass
class Contribution:
    items: list[Item] = field(default_factory=list)
    #: order id → why it needs attention (one sentence).
    flags: dict[int, str] = field(default_factory=dict)


@dataclass
class Viewer:
    """Who looks at the panel, and what that lets the panel show them."""

    user: Any
    #: May use the back office (Admin, Manager): its links are shown.
    staff: bool
    #: Answers the review queue.
    reviewer: bool
    #: Sees every order (Admin, Manager, Viewer); otherwise only their own and assigned.
    all_orders: bool
    #: Takes part in the work (may process orders): gets "what to do", not only facts.
    acts: bool

    @classmethod
    def of(cls, user: Any) -> Viewer:
        return cls(
            user=user,
            staff=bool(getattr(user, "is_staff", False)),
            reviewer=access.can_review(user),
            all_orders=access.order_scope(user, access.Action.VIEW) == Q(),
            acts=access.order_scope(user, access.Action.PROCESS) is not None,
        )

    def orders(self) -> QuerySet[Order]:
        return Order.objects.visible_to(self.user)

    def orders_phrase(self, n: int) -> str:
        """ "3 orders" for people who see all orders, "3 of your orders" for the others."""
        if not self.all_orders:
            return f"{n} of your orders"
        return f"{n} order" if n == 1 else f"{n} orders"


@dataclass
class Report:
    items: list[Item]
    flags: dict[int, str]

    @property
    def order_count(self) -> int:
        return len(self.flags)

    def as_json(self) -> dict[str, Any]:
        return {
            "items": [item.as_json() for item in self.items],
            "orders": self.order_count,
            "orders_capped": self.order_count >= FLAG_LIMIT,
        }


Provider = Callable[[Viewer], Contribution]
_providers: dict[str, Provider] = {}


def register(name: str, provider: Provider) -> None:
    """Add (or replace) the provider ``name``; apps call this from ``ready()``."""
    _providers[name] = provider


def unregister(name: str) -> None:
    _providers.pop(name, None)


def providers() -> dict[str, Provider]:
    return dict(_providers)


def collect(user: Any) -> Report:
    """Everything that needs the user's attention, most urgent first."""
    if access.order_scope(user, access.Action.VIEW) is None:
        return Report(items=[], flags={})  # no role: no orders, nothing to attend to
    viewer = Viewer.of(user)
    items: list[Item] = []
    flags: dict[int, str] = {}
    for name, provider in _providers.items():
        try:
            part = provider(viewer)
        except Exception:
            log.exception("Attention provider %s failed", name)
            items.append(
                Item(
                    key=f"{name}.unavailable",
                    level="warning",
                    text=f"Part of this panel ({name}) could not be read just now.",
                )
            )
            continue
        items.extend(part.items)
        for order_id, sentence in part.flags.items():
            if len(flags) >= FLAG_LIMIT:
                break
            flags.setdefault(order_id, sentence)
    items.sort(key=lambda item: LEVELS.index(item.level) if item.level in LEVELS else 99)
    return Report(items=items, flags=flags)


def changed() -> None:
    """Something the panel shows changed without a timeline entry: dashboards look again."""
    live.publisher.ring_dashboard()


def circuit_changed(sender: object, name: str, state: str, **kwargs: object) -> None:
    """``utilities.breakers.circuit_changed`` receiver: an AI provider or the PMR went down or
    came back; dashboards look again (the panel shows it at once, not at the next poll)."""
    changed()


def order_link(order_ref: str) -> Link:
    return Link(order_ref, reverse("order_detail", args=[order_ref]))


# --- the orders' own provider: images waiting for review, failed images ---------------------


def _images(n: int) -> str:
    return f"{n} image{'s' if n != 1 else ''}"


def review_and_failures(viewer: Viewer) -> Contribution:
    """Open orders with images in review or failed images (two queries)."""
    S = Order.Status
    open_orders = viewer.orders().exclude(status__in=Order.CLOSED)
    in_review = Q(review_images__gt=0) | Q(status=S.NEEDS_REVIEW)
    has_failed = Q(failed_images__gt=0)
    totals = open_orders.aggregate(
        review_orders=Count("id", filter=in_review),
        review_images=Sum("review_images", filter=in_review),
        failed_orders=Count("id", filter=has_failed),
        failed_images=Sum("failed_images", filter=has_failed),
    )
    part = Contribution()
    if not (totals["review_orders"] or totals["failed_orders"]):
        return part
    rows = list(
        open_orders.filter(in_review | has_failed)
        .order_by("-created_at", "-id")
        .values_list("id", "order_ref", "review_images", "failed_images")[:FLAG_LIMIT]
    )
    failed_refs = [ref for _pk, ref, _review, failed in rows if failed]
    for pk, _ref, review, failed in rows:
        reasons = []
        if failed:
            reasons.append(f"{_images(failed)} failed")
        if review:
            reasons.append(f"{_images(review)} wait{'s' if review == 1 else ''} for review")
        part.flags[pk] = ("; ".join(reasons) or "Waits for review") + "."

    if totals["failed_orders"]:
        n, images = totals["failed_orders"], totals["failed_images"] or 0
        text = f"{_images(images)} failed in {viewer.orders_phrase(n)}."
        if viewer.acts:
            text += " Open the order to see why and retry them."
        part.items.append(
            Item(
                key="orders.failed_images",
                level="error",
                text=text,
                links=tuple(order_link(ref) for ref in failed_refs[:NAMED_ORDERS]),
            )
        )
    if totals["review_orders"]:
        n, images = totals["review_orders"], totals["review_images"] or 0
        verb = "needs" if n == 1 else "need"
        text = f"{viewer.orders_phrase(n)} {verb} review ({_images(images)})"
        if viewer.reviewer:
            text += ": approve, redo or replace them in the review queue."
            link = Link("Open the review queue", reverse("review_queue"))
        else:
            text += ": a manager decides on them." if viewer.acts else "."
            link = Link(
                "Orders in review",
                reverse("order_list") + "?" + urlencode({"status": S.NEEDS_REVIEW}),
            )
        part.items.append(Item(key="orders.review", level="action", text=text, links=(link,)))
    return part


def since(moment) -> str:
    """ "since 4 Dec 2026, 09:21" """
    return f"since {when(moment)}"
