"""A worker survives its Redis restarting (issue 11, item 5).

A worker holding messages it has not acknowledged (here: tasks with a countdown, which it keeps
until they are due) loses its connection when Redis is killed. kombu then tries to put those
messages back on the dead connection and raised ``AttributeError`` (the transport was already
detached), which Celery treats as unrecoverable: the worker process exited and stayed down.
``rkh_site/kombu_fixes.py`` leaves the messages in Redis for the visibility timeout instead.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from celery import Celery

from .stack import PrivateRedis, Stack, stack_env

pytestmark = [pytest.mark.worker, pytest.mark.timeout(120)]


def test_the_worker_reconnects_after_redis_is_killed_and_restarted(tmp_path, django_db_setup):
    private = PrivateRedis(tmp_path / "redis", tmp_path / "redis.log")
    private.start()
    sims = SimpleNamespace(
        base_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9/v1", url="http://127.0.0.1:9"
    )
    env = stack_env(private.url, tmp_path, {"pmr": sims, "runware": sims, "gemini": sims})
    stack = Stack(
        private,
        env,
        tmp_path,
        tmp_path,
        0,
        broker=Celery("ctl", broker=private.url, set_as_current=False),
    )
    try:
        stack.start("ingest")
        for round_ in range(2):
            sender = Celery(
                "sender", broker=private.url, set_as_current=False
            )  # a fresh connection each round
            for _ in range(3):  # held by the worker, unacknowledged, until due
                sender.send_task("orders.tasks.abort_stale_uploads", countdown=600, queue="default")
            sender.close()
            time.sleep(1.5)
            private.kill()
            time.sleep(1.0)
            private.start()
            time.sleep(2.0)  # the old connection's loss is handled at once (where it crashed)
            log = (tmp_path / "ingest.log").read_text()
            assert stack.alive("ingest"), f"round {round_}: the worker exited\n{log[-3000:]}"
            assert "Unrecoverable error" not in log
        assert _ping(private.url), "the worker does not answer after the restarts"
    finally:
        stack.stop_all()
        private.stop()


def _ping(url: str) -> dict:
    """The workers' answers; a connection pooled from before the restart fails once first."""
    import redis

    for _ in range(20):  # the worker reconnects with a backoff of its own
        app = Celery("ctl-after", broker=url, set_as_current=False)
        try:
            replies = app.control.inspect(timeout=1).ping() or {}
            if replies:
                return replies
        except (redis.exceptions.ConnectionError, OSError):
            time.sleep(0.5)
        finally:
            app.close()
    return {}


def test_a_message_settled_during_the_outage_stays_in_redis(tmp_path):
    """Issue 14's walkthrough: a task that finished while Redis was down acknowledged (or
    rejected) its message on the detached transport; kombu raised ``AttributeError``, Celery
    called it unrecoverable and the AI worker stopped taking work. The channel here is left in
    the state of that traceback: its pools disconnected and its transport detached."""
    import contextlib

    import redis
    from kombu import Connection, Queue

    private = PrivateRedis(tmp_path / "redis", tmp_path / "redis.log")
    private.start()
    try:
        connection = Connection(private.url)
        channel = connection.default_channel
        connection.Producer(channel=channel).publish(
            {"image": 1}, routing_key="ai", declare=[Queue("ai")]
        )
        tag = channel.basic_get("ai", no_ack=False).delivery_tag
        assert redis.Redis.from_url(private.url).hexists("unacked", tag)

        private.kill()
        with contextlib.suppress(Exception):
            channel.close()
        connection.collect()
        channel._disconnect_pools()
        private.start()

        qos = channel.qos
        with pytest.raises(AttributeError):  # kombu's own ack, which ended the worker
            type(qos).ack.original(qos, tag)
        qos.ack(tag)  # no exception: the worker goes on
        qos.reject(tag)

        # Still in Redis: the transport delivers it again after the visibility timeout.
        assert redis.Redis.from_url(private.url).hexists("unacked", tag)
    finally:
        private.stop()
