"""What a log line belongs to: the request id and the order, on every line of a request or task.

Someone chasing "why did order ORD-2026-000123 stop?" searches the logs for the order's
reference, and from one line of a request or a task finds all its others by the request id.
Neither has to be passed down to every ``log.info``: both live in context variables, set once
where the work starts, and a logging filter copies them onto each record.

- The request id is django-guid's (its middleware reads a well-formed ``X-Request-ID`` or
  makes one, answers it in the response header, and carries it into the Celery tasks queued
  meanwhile, through the task's message headers).
- The order reference is ours (``order_ref``): bound by ``OrderRefMiddleware`` from the URL of
  order pages and API endpoints (their ``order_ref`` keyword), and for Celery tasks by the
  task hooks in ``rkh_site/celery.py`` (from the task's ``order_id`` or ``image_id``).

Plumbing with no app knowledge: a URL keyword's name is the one convention it relies on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar, Token

from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin
from django_guid.context import guid

#: The order the current request or task works on (its ``order_ref``), or None.
order_ref: ContextVar[str | None] = ContextVar("rkh_order_ref", default=None)

#: The URL keyword of every order page and order API endpoint.
ORDER_REF_KWARG = "order_ref"


def bind_order_ref(ref: str | None) -> Token:
    """Say which order the current work is about (``reset_order_ref`` with the token undoes it)."""
    return order_ref.set(ref or None)


def reset_order_ref(token: Token) -> None:
    """Undo ``bind_order_ref``; a token of another context (a task hook that ran in a thread
    of its own) just clears it, so no later work of this thread is logged under that order."""
    try:
        order_ref.reset(token)
    except ValueError:
        order_ref.set(None)


def current_request_id() -> str | None:
    """The request id of the current request, or of the request that queued this task."""
    return guid.get()


class LogContextFilter(logging.Filter):
    """Copies the request id and the order reference onto every record (None when there is
    none), for the formatters: on the handler, so records of every logger get them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = guid.get()
        record.order_ref = order_ref.get()
        return True


class ConsoleFormatter(logging.Formatter):
    """Human-readable lines for ``make run``: ``time LEVEL logger [request order]: message``,
    the brackets only when there is a request or an order to name."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            part
            for part in (getattr(record, "request_id", None), getattr(record, "order_ref", None))
            if part
        ]
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return super().format(record)


class OrderRefMiddleware(MiddlewareMixin):
    """Binds the order of an order page or API endpoint (its URL's ``order_ref``) for the
    request's log lines.

    Cleared when a request starts, not when it ends: Django logs a 4xx or 5xx answer
    ("Not Found: /orders/ORD-…/") after the middleware has returned, and that line should
    still name the order.
    """

    def process_request(self, request: HttpRequest) -> None:
        order_ref.set(None)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable,
        view_args: tuple,
        view_kwargs: dict,
    ) -> HttpResponse | None:
        ref = view_kwargs.get(ORDER_REF_KWARG)
        if isinstance(ref, str) and ref:
            order_ref.set(ref[:64])  # a URL says anything; the log line stays short
        return None
