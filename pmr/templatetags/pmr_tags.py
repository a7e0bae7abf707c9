"""``{% pmr_delivery order %}``: the order page's PMR box (progress, offline, PMR status).

Its content is ``pmr.box.delivery_box``, the same dict the live order state carries, so
the page's script (static/js/pmr_box.js) re-draws the box exactly as rendered here.
"""

from django import template

from utilities import access

from ..box import delivery_box

register = template.Library()


@register.inclusion_tag("pmr/delivery_box.html", takes_context=True)
def pmr_delivery(context, order, box=None):
    """The box; ``box``: its content when the page has it already (the live order state's
    ``pmr`` part), so it is not read twice."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "order": order,
        "box": box or delivery_box(order),
        "can_export": user is not None and access.can(user, access.Action.REVIEW, order),
    }
