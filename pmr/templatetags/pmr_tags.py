"""``{% pmr_delivery order %}``: the order page's PMR box (progress, offline, PMR status)."""

from django import template

from orders import access

from .. import services

register = template.Library()


@register.inclusion_tag("pmr/delivery_box.html", takes_context=True)
def pmr_delivery(context, order):
    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "order": order,
        "pmr": services.delivery_summary(order),
        "can_export": user is not None and access.can(user, access.Action.REVIEW, order),
    }
