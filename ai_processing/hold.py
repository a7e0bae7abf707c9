"""Hold for approval: which rule applies to an order.

The pipeline (``orders.pipeline.ai_settled``) asks for the rule (``rule_for``, through
``ai_processing.stage``) once every image of an order is done with AI, before anything is
written into the PMR outbox. Held, the order waits in ``awaiting_approval`` until every
processed image is approved (by a person through ``ai_processing.approval``, or by itself
when the waiting time passes); then the pipeline moves it back to ``processing`` and hands
it to the PMR. Nothing reaches the PMR outbox before.

Which rule (docs/approval.md): the event's own setting, when it says "hold" or "never
hold", wins over the order's preset; with "as the preset says" the preset decides. The
two companions (may the order's user approve, approve by itself after N hours) come from
whichever of the two decided. The rule is read when the order enters ``awaiting_approval``
and kept on the order (``approval_owner_may_approve``, ``approval_due_at``,
``approval_rule``), so the access rule and the beat task read one row.
"""

from __future__ import annotations

from orders.models import Order
from orders.pipeline import DELIVERABLE, HoldRule, unapproved

__all__ = ["DELIVERABLE", "HoldRule", "rule_for", "unapproved"]


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
