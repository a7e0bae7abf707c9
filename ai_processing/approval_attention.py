"""Orders awaiting approval, for the dashboard's "Needs attention" panel (``orders.attention``).

Each viewer hears of the orders they may approve ("approve or turn down", a link to each
order's approval page) and, when they see orders they may not approve, that those wait for
someone else. Two bounded queries through the access rule.
"""

from __future__ import annotations

from django.urls import reverse

from orders.attention import FLAG_LIMIT, NAMED_ORDERS, Contribution, Item, Link, Viewer
from orders.models import Order
from utilities import access


def _approval_link(ref: str) -> Link:
    return Link(ref, reverse("order_approval", args=[ref]))


def provide(viewer: Viewer) -> Contribution:
    part = Contribution()
    waiting = viewer.orders().filter(status=Order.Status.AWAITING_APPROVAL)
    rows = list(
        waiting.order_by("approval_due_at", "-created_at").values_list(
            "id", "order_ref", "processed_images"
        )[:FLAG_LIMIT]
    )
    if not rows:
        return part
    scope = access.order_scope(viewer.user, access.Action.APPROVE)
    mine = set() if scope is None else set(waiting.filter(scope).values_list("id", flat=True))
    for pk, _ref, _n in rows:
        part.flags[pk] = (
            "Waits for your approval." if pk in mine else "Waits for a manager's approval."
        )
    to_answer = [(pk, ref) for pk, ref, _n in rows if pk in mine]
    others = len(rows) - len(to_answer)
    if to_answer:
        n = len(to_answer)
        text = (
            f"{viewer.orders_phrase(n)} {'awaits' if n == 1 else 'await'} your approval: "
            "compare each image before and after, then approve it or turn it down."
        )
        part.items.append(
            Item(
                key="approval.yours",
                level="action",
                text=text,
                links=tuple(_approval_link(ref) for _pk, ref in to_answer[:NAMED_ORDERS]),
            )
        )
    if others:
        verb = "awaits" if others == 1 else "await"
        part.items.append(
            Item(
                key="approval.others",
                level="action",
                text=f"{viewer.orders_phrase(others)} {verb} a manager's approval before "
                "delivery to the PMR.",
                links=(
                    Link(
                        "Orders awaiting approval",
                        reverse("order_list") + "?status=" + Order.Status.AWAITING_APPROVAL,
                    ),
                ),
            )
        )
    return part
