"""CircuitBreaker: state shared through Redis by every worker process."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis
from django.conf import settings

from utilities.circuit_breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def prefix():
    prefix = f"test-ai-breaker-{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def breaker(prefix: str, clock: Clock, **kwargs) -> CircuitBreaker:
    """A breaker on its own Redis connection, as a separate worker process would have."""
    kwargs.setdefault("failures", 3)
    kwargs.setdefault("cooldown", 60)
    return CircuitBreaker(
        redis.Redis.from_url(settings.REDIS_URL), prefix=prefix, clock=clock, **kwargs
    )


def test_opens_after_n_consecutive_failures(prefix, clock):
    b = breaker(prefix, clock)
    assert b.state("runware")["state"] == "closed"
    b.record_failure("runware")
    b.record_failure("runware")
    assert b.allow("runware")
    assert b.state("runware") == {
        "provider": "runware",
        "state": "closed",
        "failures": 2,
        "retry_in": 0,
    }
    b.record_failure("runware")
    assert not b.allow("runware")
    state = b.state("runware")
    assert state["state"] == "open"
    assert state["retry_in"] == 60
    assert b.allow("gemini"), "circuits are per provider"


def test_success_resets_the_count(prefix, clock):
    b = breaker(prefix, clock)
    b.record_failure("gemini")
    b.record_failure("gemini")
    b.record_success("gemini")
    b.record_failure("gemini")
    b.record_failure("gemini")
    assert b.state("gemini")["state"] == "closed"


def test_state_is_shared_by_two_processes(prefix, clock):
    worker_a, worker_b = breaker(prefix, clock), breaker(prefix, clock)
    worker_a.record_failure("runware")
    worker_b.record_failure("runware")
    worker_a.record_failure("runware")
    assert not worker_b.allow("runware")
    assert worker_b.state("runware")["state"] == "open"
    worker_b.record_success("runware")
    assert worker_a.allow("runware")


def test_failures_counted_atomically_under_concurrency(prefix, clock):
    def fail() -> None:
        breaker(prefix, clock, failures=1000).record_failure("runware")

    threads = [threading.Thread(target=fail) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert breaker(prefix, clock).state("runware")["failures"] == 20


def test_half_open_allows_exactly_one_probe(prefix, clock):
    b = breaker(prefix, clock)
    for _ in range(3):
        b.record_failure("runware")
    clock.now += 59
    assert not b.allow("runware")
    clock.now += 2
    assert b.state("runware")["state"] == "half_open"

    workers = [breaker(prefix, clock) for _ in range(12)]
    barrier = threading.Barrier(len(workers))
    allowed: list[bool] = []

    def probe(worker: CircuitBreaker) -> None:
        barrier.wait()
        allowed.append(worker.allow("runware"))

    threads = [threading.Thread(target=probe, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(allowed) == [False] * 11 + [True]
    assert b.state("runware")["probing"] is True


def test_successful_probe_closes_the_circuit(prefix, clock):
    b = breaker(prefix, clock)
    for _ in range(3):
        b.record_failure("runware")
    clock.now += 61
    assert b.allow("runware")
    b.record_success("runware")
    assert b.state("runware")["state"] == "closed"
    assert all(b.allow("runware") for _ in range(3))


def test_failed_probe_opens_it_for_another_cooldown(prefix, clock):
    b = breaker(prefix, clock)
    for _ in range(3):
        b.record_failure("runware")
    clock.now += 61
    assert b.allow("runware")
    b.record_failure("runware")
    assert b.state("runware")["state"] == "open"
    assert not b.allow("runware")
    clock.now += 61
    assert b.allow("runware"), "a new probe after the next cool-down"


def test_a_lost_probe_token_expires(prefix, clock):
    b = breaker(prefix, clock, probe_timeout=0.1)
    for _ in range(3):
        b.record_failure("runware")
    clock.now += 61
    assert b.allow("runware")
    assert not b.allow("runware")
    time.sleep(0.15)  # the prober died without a verdict; its token runs out
    assert b.allow("runware")


def test_listener_hears_the_circuit_open_once_and_close(prefix, clock):
    heard: list[tuple[str, str]] = []
    b = breaker(prefix, clock, on_change=lambda name, state: heard.append((name, state)))
    b.record_failure("runware")
    b.record_failure("runware")
    assert heard == []
    b.record_failure("runware")
    assert heard == [("runware", "open")]
    opened = b.state("runware")["down_since"]
    clock.now += 61  # half-open; the probe fails: open again, but it was down all along
    assert b.allow("runware")
    b.record_failure("runware")
    state = b.state("runware")
    assert state["state"] == "open"
    assert state["down_since"] == opened
    assert heard == [("runware", "open")]
    b.record_success("runware")
    b.record_success("runware")  # closed already: nothing to hear
    assert heard == [("runware", "open"), ("runware", "closed")]
    assert "down_since" not in b.state("runware")


def test_a_failing_listener_does_not_break_the_call(prefix, clock):
    def deaf(name: str, state: str) -> None:
        raise RuntimeError("listener down")

    b = breaker(prefix, clock, failures=1, on_change=deaf)
    assert b.record_failure("gemini") == 1
    assert b.state("gemini")["state"] == "open"
    b.record_success("gemini")
    assert b.state("gemini")["state"] == "closed"
