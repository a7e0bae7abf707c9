"""Hold for approval: which rule applies to an order, and the hold step of the pipeline.

The pipeline (``services._settle_order``) asks ``hold_or_release`` once every image of an
order is done with AI, before anything is written into the PMR outbox. Held, the order
waits in ``awaiting_approval`` until every processed image is approved (by a person through
``ai_processing.approval``, or by itself when the waiting time passes); then this same step
moves it back to ``processing`` and the pipeline hands it to the PMR. Nothing reaches the
PMR outbox before: the outbox rows are written by the ``ai_completed`` signal, which is sent
only after this step lets the order go.

Which rule (docs/approval.md): the event's own setting, when it says "hold" or "never
hold", wins over the order's preset; with "as the preset says" the preset decides. The
two companions (may the order's user approve, approve by itself after N hours) come from
whichever of the two decided. The rule is read when the order enters ``awaiting_approval``
and kept on the order (``approval_owner_may_approve``, ``approval_due_at``,
``approval_rule``), so the access rule and the beat task read one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from orders import services as order_services
from orders.models import Image, Order

S = Order.Status
#: The statuses of an image that is delivered, hence approved before it is.
DELIVERABLE = frozenset({Image.Status.PROCESSED})


@dataclass(frozen=True)
class HoldRule:
    """What the settings say for one order."""

    hold: bool
    owner_may_approve: bool = False
    auto_approve_hours: int | None = None
    #: Whose setting decided: "event", "preset", or "" (neither holds).
    source: str = ""

    def sentence(self) -> str:
        """Why the order waits, in words (the guidance box and the status change)."""
        if not self.hold:
            return ""
        whose = "its event" if self.source == "event" else "its processing preset"
        return f"held for approval by {whose}"


def rule_for(order: Order) -> HoldRule:
    """The hold rule for ``order``: the event's setting when set, else the preset's."""
    event = order.event
    if event.hold_for_approval == event.Hold.HOLD:
        return HoldRule(True, event.owner_may_approve, event.auto_approve_hours, "event")
    if event.hold_for_approval == event.Hold.RELEASE:
        return HoldRule(False, source="event")
    preset = order.preset
    if preset is not None and preset.hold_for_approval:
        return HoldRule(True, preset.owner_may_approve, preset.auto_approve_hours, "preset")
    return HoldRule(False)


def unapproved(order: Order):
    """The order's images that would be delivered and nobody approved yet."""
    return Image.objects.filter(order_id=order.pk, status__in=DELIVERABLE, approved_at__isnull=True)


def hold_or_release(order: Order) -> bool:
    """The hold step, for an order whose images are all done with AI (caller holds its lock).

    Returns True when the order must wait: it is (now) ``awaiting_approval``, with the
    rule's facts stored on it. Returns False when it may go on to the PMR: no hold applies,
    or every deliverable image is approved (an order awaiting approval then moves back to
    ``processing``, the status the PMR delivery completes from).
    """
    waiting = order.status == S.AWAITING_APPROVAL
    if not waiting:
        rule = rule_for(order)
        if not rule.hold:
            return False
    if unapproved(order).exists():
        if not waiting:
            _enter(order, rule)
        return True
    if waiting:
        order_services.change_order_status(order, S.PROCESSING, reason="every image approved")
    return False


def _enter(order: Order, rule: HoldRule) -> None:
    due = (
        timezone.now() + timedelta(hours=rule.auto_approve_hours)
        if rule.auto_approve_hours
        else None
    )
    Order.objects.filter(pk=order.pk).update(
        approval_owner_may_approve=rule.owner_may_approve,
        approval_due_at=due,
        approval_rule=rule.source,
    )
    order.approval_owner_may_approve = rule.owner_may_approve
    order.approval_due_at = due
    order.approval_rule = rule.source
    order_services.change_order_status(order, S.AWAITING_APPROVAL, reason=rule.sentence())
