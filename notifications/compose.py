"""What each kind of notification says, and to whom.

Who gets what (docs/notifications.md, "Who is notified"):

- **Order completed**: the order's creator and its assignee.
- **Order needs review**: the creator and the assignee, and everyone who can
  answer the review queue for it (``access.can(user, REVIEW, order)``:
  Managers and Admins), since they are the ones who approve or redo images.
- **Order awaits approval** (a hold for approval): the creator and the assignee, and
  everyone who may approve it (``access.can(user, APPROVE, order)``: Managers and Admins).
- **Order approved**: the creator and the assignee, except whoever approved it (an image
  turned down sends the order to review: "Order needs review" tells them).
- **The PMR refused a write**: the creator and the assignee, and everyone who
  can put the PMR queue right in the back office (``pmr.change_outboxentry``:
  Managers and Admins: retry, skip, mark uploaded by hand).
- **AI provider or PMR down**: users with ``notifications.receive_service_alerts``
  (Managers and Admins).
- **Repeated failed sign-ins**: users with ``notifications.receive_security_alerts``
  (Admins).
- **A backup failed**: users with ``backups.receive_backup_alerts`` (Admins); the backups app
  (above this one) composes and sends it (``backups.alerts``).

Every order notification goes only to active users the access rule lets view
the order (``access.can(user, VIEW, order)``): nobody hears about an order
they cannot open. Each recipient's own preferences then pick the channels
(``services.notify``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.urls import reverse

from orders.models import Order, OrderEvent
from pmr.timeline import FAILED_EVENT as PMR_WRITE_FAILED
from utilities import access

from .models import Kind

SERVICE_ALERTS = "notifications.receive_service_alerts"
SECURITY_ALERTS = "notifications.receive_security_alerts"
#: Named here, as a string, so the settings page offers the kind to the right people; the
#: backups app, above this one, holds the permission and sends the notifications.
BACKUP_ALERTS = "backups.receive_backup_alerts"
PMR_FIXERS = "pmr.change_outboxentry"


@dataclass(frozen=True)
class Message:
    """What one recipient is told: the notification's words and where it leads."""

    kind: str
    source_key: str
    title: str
    body: str
    url: str
    order: Order | None = None


def order_kind(kind: str, payload: Any) -> str | None:
    """The notification kind of a timeline entry, or None; cheap (no query), so the
    ``post_save`` hook can ignore the many entries that notify nobody."""
    if kind == OrderEvent.Kind.ORDER_STATUS and isinstance(payload, dict):
        return {
            Order.Status.COMPLETED: Kind.ORDER_COMPLETED,
            Order.Status.NEEDS_REVIEW: Kind.ORDER_NEEDS_REVIEW,
            # Failed (every image failed at ingest) needs a person just as much: same kind.
            Order.Status.FAILED: Kind.ORDER_NEEDS_REVIEW,
            Order.Status.AWAITING_APPROVAL: Kind.ORDER_AWAITING_APPROVAL,
        }.get(payload.get("to"))
    if kind == OrderEvent.Kind.ORDER_APPROVED:
        return Kind.ORDER_APPROVED
    if kind == PMR_WRITE_FAILED:
        return Kind.PMR_REFUSED
    return None


def _active_with_perm(perm: str) -> list[Any]:
    """Active users who hold ``perm`` through a role, directly, or as superusers."""
    return list(
        get_user_model().objects.with_perm(
            perm, backend="django.contrib.auth.backends.ModelBackend"
        )
    )


def for_order_event(entry: OrderEvent) -> list[tuple[Any, Message]]:
    """(recipient, message) for every person a timeline entry concerns; [] for most entries."""
    kind = order_kind(entry.kind, entry.payload)
    if kind is None:
        return []
    order = Order.objects.select_related("event", "created_by", "assigned_to").get(
        pk=entry.order_id
    )
    people = {u.pk: u for u in (order.created_by, order.assigned_to) if u is not None}
    if kind == Kind.ORDER_NEEDS_REVIEW:
        for user in _active_with_perm("orders.manage_all_orders"):
            if access.can(user, access.Action.REVIEW, order):
                people.setdefault(user.pk, user)
    elif kind == Kind.ORDER_AWAITING_APPROVAL:
        for user in _active_with_perm("orders.manage_all_orders"):
            if access.can(user, access.Action.APPROVE, order):
                people.setdefault(user.pk, user)
    elif kind == Kind.PMR_REFUSED:
        for user in _active_with_perm(PMR_FIXERS):
            people.setdefault(user.pk, user)
    elif kind == Kind.ORDER_APPROVED and entry.actor_id:
        people.pop(entry.actor_id, None)  # who approved knows it
    source_key = f"order-event:{entry.pk}"
    result = []
    for user in people.values():
        # The one access rule: nobody is told about an order they cannot view.
        if not (user.is_active and access.can(user, access.Action.VIEW, order)):
            continue
        result.append((user, _order_message(kind, order, entry, user, source_key)))
    return result


def _order_message(kind: str, order: Order, entry: OrderEvent, user: Any, key: str) -> Message:
    ref = order.order_ref
    page = reverse("order_detail", args=[ref])
    about = f"{order.customer_name} · event {order.event.event_id}"
    if kind == Kind.ORDER_COMPLETED:
        delivered = order.synced_images
        body = f"{about}. {delivered} of {order.total_images} images delivered to the PMR."
        return Message(kind, key, f"Order {ref} is completed", body, page, order)
    if kind == Kind.ORDER_NEEDS_REVIEW:
        parts = []
        if order.review_images:
            count = order.review_images
            images = "1 image waits" if count == 1 else f"{count} images wait"
            parts.append(f"{images} for a person to approve, redo or replace.")
        if order.failed_images:
            # Failed images stop the order short of delivery (issue 11): say so, never "done".
            count = order.failed_images
            images = "1 image failed" if count == 1 else f"{count} images failed"
            parts.append(
                f"{images}; nothing goes to the PMR until they are retried or someone decides "
                "to deliver without them."
            )
        body = " ".join([f"{about}.", *parts]) if parts else f"{about}."
        url = page
        only_failures = order.failed_images and not order.review_images
        if not only_failures and access.can(user, access.Action.REVIEW, order):
            url = f"{reverse('review_queue')}?{urlencode({'q': ref})}"
        title = f"Order {ref} " + (
            "failed" if entry.payload.get("to") == Order.Status.FAILED else "needs review"
        )
        return Message(kind, key, title, body, url, order)
    if kind == Kind.ORDER_AWAITING_APPROVAL:
        count = order.processed_images
        images = "1 image waits" if count == 1 else f"{count} images wait"
        body = f"{about}. {images} for approval; nothing goes to the PMR until they are approved."
        if order.approval_due_at:
            body += " If nobody objects, the order is approved by itself in time."
        url = page
        if access.can(user, access.Action.APPROVE, order):
            url = reverse("order_approval", args=[ref])
        return Message(kind, key, f"Order {ref} awaits approval", body, url, order)
    if kind == Kind.ORDER_APPROVED:
        payload = entry.payload if isinstance(entry.payload, dict) else {}
        if payload.get("auto"):
            who = " by itself (nobody objected in time)"
        else:
            who = f" by {entry.actor}" if entry.actor_id else ""
        body = f"{about}. Approved{who}; the images now go to the PMR."
        return Message(kind, key, f"Order {ref} is approved", body, page, order)
    # The PMR refused a write: its answer, and what happens next.
    error = str((entry.payload or {}).get("error") or "no reason given").strip()
    body = (
        f"{about}. The PMR answered: {error[:300]}. The order's later writes wait until "
        "someone retries or skips this one."
    )
    url = page
    if user.has_perm(PMR_FIXERS):
        query = urlencode({"q": ref, "state__exact": "failed"})
        url = f"{reverse('admin:pmr_outboxentry_changelist')}?{query}"
    return Message(kind, key, f"The PMR refused a write for order {ref}", body, url, order)


def for_outage(outage: Any) -> list[tuple[Any, Message]]:
    """Managers and Admins (``receive_service_alerts``): one message per outage."""
    if outage.service == "pmr":
        title = "The PMR cannot be reached"
        body = (
            "Deliveries to the PMR wait and resume by themselves when it answers again; "
            "orders show “Waiting for PMR” meanwhile."
        )
    else:
        title = f"AI provider {outage.label} is not answering"
        body = (
            "Images go to the next provider of the fallback chain; those no provider "
            "can do wait for review."
        )
    message = Message(Kind.SERVICE_DOWN, f"outage:{outage.pk}", title, body, reverse("home"))
    return [(user, message) for user in _active_with_perm(SERVICE_ALERTS)]


def for_failed_signins(
    *, username: str, count: int, minutes: int, ip: str, window: str, account_id: int | None
) -> list[tuple[Any, Message]]:
    """Admins (``receive_security_alerts``): one message per account and window. Never the
    password (Django's signal masks it anyway, and it is not read here)."""
    if account_id is not None:
        url = reverse("admin:accounts_user_change", args=[account_id])
    else:
        url = f"{reverse('admin:accounts_user_changelist')}?{urlencode({'q': username})}"
    where = f", the last from {ip}" if ip else ""
    known = "" if account_id is not None else " (no account has this name)"
    body = f"{count} failed sign-ins for “{username}”{known} within {minutes} minutes{where}."
    title = f"Repeated failed sign-ins for {username}"
    message = Message(Kind.FAILED_SIGNINS, f"signins:{window}", title[:200], body, url)
    return [(user, message) for user in _active_with_perm(SECURITY_ALERTS)]


def for_signins_from_address(
    *, ip: str, count: int, minutes: int, window: str
) -> list[tuple[Any, Message]]:
    """Admins (``receive_security_alerts``): one message per address and window, whatever
    names were tried from it (someone trying many accounts from one machine). The link opens
    the audit log's entries from that address (the failed sign-ins are there)."""
    url = f"{reverse('admin:auditlog_logentry_changelist')}?{urlencode({'remote_addr': ip})}"
    title = f"Repeated failed sign-ins from {ip}"
    body = (
        f"{count} failed sign-ins from {ip} within {minutes} minutes, for any account name; "
        "this address cannot sign in for now."
    )
    message = Message(Kind.FAILED_SIGNINS, f"signins:{window}", title[:200], body, url)
    return [(user, message) for user in _active_with_perm(SECURITY_ALERTS)]
