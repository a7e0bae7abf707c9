"""A workaround for kombu's Redis transport: a worker must survive a Redis restart.

When the broker connection breaks, Celery's consumer first ``collect()``s the connection
(which detaches its transport: ``transport.client = None``) and then ``close()``s it. If
closing the channel was cut short the first time (the socket already gone), the second
close restores the worker's unacknowledged messages: ``QoS.restore_unacked`` asks the
channel for a new Redis client, whose parameters come from ``transport.client``, now None,
and raises ``AttributeError: 'NoneType' object has no attribute 'hostname'``. That is not a
connection error, so Celery treats it as unrecoverable and the worker process exits (one
Redis restart in two in the drills of issue 11; kombu 5.7.0).

Nothing can be restored at that moment anyway: the connection is gone. The messages are
still in Redis's ``unacked`` hash, and the transport gives them back to the queue once the
visibility timeout passes (``CELERY_VISIBILITY_TIMEOUT``, 5 minutes, not the hour of the
default), so the right thing is to leave them there. The patch does exactly that when the
channel's transport is detached, and changes nothing otherwise.

The same detached transport met a task that finished during the outage (issue 14's
walkthrough: Redis killed with AI tasks running): acknowledging or rejecting its message asks
for a client the same way (``QoS._remove_from_indices``), the ``AttributeError`` ended the
consumer as unrecoverable, and the worker hung in its shutdown instead of exiting (see
``rkh_site/worker_exit.py``). With the transport detached, ``ack`` and ``reject`` now only
forget the message locally: it stays in the ``unacked`` hash and comes back after the
visibility timeout, which is safe because every task is idempotent. (Only that
``AttributeError`` is caught: where kombu can still settle the message, it does.)
"""

from __future__ import annotations

import logging

from kombu.transport import redis as redis_transport
from kombu.transport.virtual.base import QoS as virtual_qos

log = logging.getLogger(__name__)
_PATCHED = "_rkh_restore_unacked_patched"


def _connection_detached(qos) -> bool:
    transport = getattr(qos.channel, "connection", None)
    return transport is None or getattr(transport, "client", None) is None


def apply() -> None:
    """Patch ``kombu.transport.redis.QoS``'s ``restore_unacked``, ``ack`` and ``reject``
    once (idempotent)."""
    qos = redis_transport.QoS
    if getattr(qos.restore_unacked, _PATCHED, False):
        return
    _patch_settling(qos)
    original = qos.restore_unacked

    def restore_unacked(self, client=None):
        if client is None and _connection_detached(self):
            count = len(self._delivered)
            self._delivered.clear()
            if count:
                log.warning(
                    "Broker connection lost: %d unacknowledged message(s) stay in Redis and "
                    "are delivered again after the visibility timeout",
                    count,
                )
            return None
        return original(self, client)

    setattr(restore_unacked, _PATCHED, True)
    restore_unacked.__doc__ = original.__doc__
    qos.restore_unacked = restore_unacked


def _patch_settling(qos) -> None:
    """``ack`` and ``reject`` on a detached transport: forget the message here, keep it in
    Redis (``unacked``) for the visibility timeout."""
    qos.ack = _left_in_redis_when_detached(qos.ack, "acknowledged")
    qos.reject = _left_in_redis_when_detached(qos.reject, "rejected")


def _left_in_redis_when_detached(original, what: str):
    def settle(self, delivery_tag, *args, **kwargs):
        try:
            return original(self, delivery_tag, *args, **kwargs)
        except AttributeError:
            if not _connection_detached(self):
                raise
        # The local bookkeeping only (kombu's virtual QoS); Redis is not reachable.
        virtual_qos.ack(self, delivery_tag)
        log.warning(
            "Broker connection lost: a message could not be %s; it stays in Redis and is "
            "delivered again after the visibility timeout",
            what,
        )
        return None

    settle.__doc__ = original.__doc__
    settle.original = original  # for the tests
    return settle
