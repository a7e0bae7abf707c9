"""channels-redis' layer, without losing a message when a receiver is cancelled mid-read.

Every consumer of a web process reads the process's one channel key in turn: whichever holds
the layer's receive lock waits in ``BZPOPMIN`` and hands each message to its addressee. When
that consumer's socket closes, Channels cancels its ``receive()``; if Redis had already popped a
message for *another* consumer, the reply was dropped with the cancelled read and the message
was lost (channels_redis issue #366; django/channels #1683). It happened when a page posted a
form and navigated away just as its change rang the doorbell of another page watching the same
order: the watcher missed the change until its next heartbeat (tests/rkh_site/test_channel_layer.py
reproduces it: about one message in six was lost when the read was cancelled half a
millisecond after the send).

The fix keeps channels-redis' own safety net working under cancellation: the pop and its copy to
the channel's backup queue run in a shielded task that finishes even when the reader is
cancelled, and what it popped is then put back on the channel, where the consumer reading next
finds it at once. (Were the put-back to fail, the next read of the channel restores the backup
queue anyway, channels-redis' own recovery, within its ``brpop_timeout``.)

It also survives Redis restarting. redis-py's asyncio pool hands out a pooled connection that
the server closed without noticing, and a command on it fails with ``ConnectionError``; each
stale connection of a web process failed once, so for some ten seconds after a Redis restart a
WebSocket's handshake (its ``group_add``) answered 500 and open pages dropped their sockets.
Each host's pool now retries a command once, at once, on a fresh connection after a
``ConnectionError`` (unless the settings say otherwise). Retrying a command that Redis may
already have applied is safe here: every message this project sends on the layer is a
doorbell, telling a consumer to read what changed from the database (``orders/live.py``), so a
doorbell rung twice costs one extra read; group membership is a set. And a retry only succeeds
where a server answers at that moment: a server that applied the command and then died is not
back within the retry's microseconds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer
from channels_redis.utils import decode_hosts
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger(__name__)


#: Moves one message from a channel's backup queue back to the channel, keeping its score.
_PUT_BACK = """
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if score then
    redis.call('ZREM', KEYS[2], ARGV[1])
    redis.call('ZADD', KEYS[1], score, ARGV[1])
end
return score
"""


class RedisChannelLayer(_RedisChannelLayer):
    def __init__(self, hosts: Any = None, **kwargs: Any) -> None:
        # One immediate retry on a fresh connection after a lost one (the module's docstring).
        hosts = [{"retry_on_error": [RedisConnectionError], **host} for host in decode_hosts(hosts)]
        super().__init__(hosts=hosts, **kwargs)
        #: Running put-backs, referenced so they are not collected half-way.
        self._put_backs: set[asyncio.Task] = set()

    async def _brpop_with_clean(self, index: int, channel: Any, timeout: int) -> Any:
        parent = super()._brpop_with_clean
        read = asyncio.ensure_future(parent(index, channel, timeout))
        try:
            return await asyncio.shield(read)
        except asyncio.CancelledError:
            # The read goes on; what it pops (copied to the backup queue by channels-redis)
            # is put straight back on the channel, where the consumer now reading it wakes.
            read.add_done_callback(lambda done: self._put_back_popped(done, index, channel))
            raise

    def _put_back_popped(self, read: asyncio.Future, index: int, channel: Any) -> None:
        if read.cancelled():
            return
        if read.exception() is not None:  # Redis went away: nothing was popped for good
            log.info("A cancelled channel read failed: %r", read.exception())
            return
        member = read.result()
        if member is not None:
            task = asyncio.ensure_future(self._put_back(index, channel, member))
            self._put_backs.add(task)
            task.add_done_callback(self._put_backs.discard)

    async def _put_back(self, index: int, channel: Any, member: bytes) -> None:
        backup = self._backup_channel_name(channel)
        try:
            await self.connection(index).eval(_PUT_BACK, 2, channel, backup, member)
        except Exception as exc:  # the next read of the channel restores the backup anyway
            log.info("Could not put a message back on %s: %r", channel, exc)
