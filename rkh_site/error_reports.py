"""Error reports to Sentry: initialised by the settings only when ``SENTRY_DSN`` is set.

The settings module is the one place every process of the product loads first (the web
process, Celery workers and beat, management commands), so initialising here covers them all
without a hook per process. Without a DSN nothing is imported or initialised.

No personal data leaves: ``send_default_pii=False`` (no user names, e-mail addresses, cookies
or client addresses in the events), and the Redis integration, which Sentry turns on by itself,
is off: its breadcrumbs carry the keys read, and a session's cache key is its session id.

What is added is what finds the report's other traces: the request id (also in the
``X-Request-ID`` answer header and on every log line) and the order reference, as tags.
"""

from __future__ import annotations

from typing import Any


def init(
    dsn: str,
    *,
    environment: str,
    release: str | None,
    traces_sample_rate: float = 0.0,
) -> None:
    """Start the Sentry SDK with its Django and Celery integrations."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.redis import RedisIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # Its breadcrumbs name every Redis key read before the error, and a session's cache
        # key is the session id: a credential, whatever send_default_pii says.
        disabled_integrations=[RedisIntegration()],
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        before_send=tag_with_log_context,
    )


def tag_with_log_context(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Add the request id and the order reference of the failing work as tags."""
    # Imported when an error is reported: the settings import this module before Django is set up.
    from utilities import log_context

    tags = event.setdefault("tags", {})
    request_id = log_context.current_request_id()
    if request_id:
        tags.setdefault("request_id", request_id)
    order_ref = log_context.order_ref.get()
    if order_ref:
        tags.setdefault("order_ref", order_ref)
    return event
