"""How the notifications app's timeline entries read (registered in ``orders.timeline``)."""

from __future__ import annotations

from orders import timeline
from orders.timeline import Names, Payload


def register() -> None:
    """Called from ``NotificationsConfig.ready``."""
    from .customer_email import SENT_EVENT

    @timeline.register(SENT_EVENT)
    def _customer_email_sent(p: Payload, names: Names) -> str:
        return "E-mail sent to the customer"
