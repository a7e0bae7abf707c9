"""The notifications app's timeline kind and how it reads (registered in ``orders.timeline``)."""

from __future__ import annotations

from orders import timeline
from orders.timeline import Names, Payload

#: An e-mail went to the order's customer (``customer_email``). Entries written before
#: encryption at rest carry ``{to}``; newer ones nothing (the address is the order's).
SENT_EVENT = "customer.email_sent"


def register() -> None:
    """Called from ``NotificationsConfig.ready``."""

    @timeline.register(SENT_EVENT)
    def _customer_email_sent(p: Payload, names: Names) -> str:
        return "E-mail sent to the customer"
