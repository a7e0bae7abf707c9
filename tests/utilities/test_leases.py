"""Leases that leave a claim (utilities/leases.py): a holder killed mid-work leaves its claim,
which ``orphans`` returns once its lease ran out, so the work is queued again within a lease
period instead of when a sweep finds it unmoved for minutes. Real Redis, a real killed process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from utilities.leases import Claim, exclusive, orphans

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def names(settings) -> Iterator[tuple[redis.Redis, str, str]]:
    """A client, a claims set and a lease-key prefix of this test's own."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    run = uuid.uuid4().hex[:8]
    claims, prefix = f"test:claims:{run}", f"test:lease:{run}:"
    yield client, claims, prefix
    client.delete(claims, *client.keys(f"{prefix}*"))


def test_a_claim_lives_exactly_as_long_as_its_lease(names):
    client, claims, prefix = names
    claim = Claim(claims, "7")
    with exclusive(client, f"{prefix}7", 30, claim=claim) as held:
        assert held
        assert client.smembers(claims) == {b"7"}
        with exclusive(client, f"{prefix}7", 30, claim=claim) as second:
            assert not second  # a second delivery steps aside and leaves the claim alone
        assert client.smembers(claims) == {b"7"}
        assert orphans(client, claims, lambda m: f"{prefix}{m}") == []  # its holder lives
    assert client.smembers(claims) == set()
    assert not client.exists(f"{prefix}7")


def test_a_lease_lost_while_the_work_ran_still_takes_its_claim_along(names):
    client, claims, prefix = names
    with exclusive(client, f"{prefix}8", 30, claim=Claim(claims, "8")) as held:
        assert held
        client.delete(f"{prefix}8")  # ran out (a stalled holder); nobody took it since
    assert client.smembers(claims) == set()  # the work is done: nothing to queue again


HOLDER = """
import sys, time, redis
from utilities.leases import Claim, exclusive
client = redis.Redis.from_url(sys.argv[1])
with exclusive(client, sys.argv[2] + "9", 1.0, renew=True, claim=Claim(sys.argv[3], "9")) as held:
    assert held
    print("holding", flush=True)
    time.sleep(60)
"""


def test_a_holder_killed_mid_work_leaves_an_orphan_returned_once(names, settings):
    client, claims, prefix = names
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, settings.REDIS_URL, prefix, claims],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        time.sleep(1.5)  # longer than the lease: its renewals keep it
        assert orphans(client, claims, lambda m: f"{prefix}{m}") == []
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        holder.kill()
    assert client.smembers(claims) == {b"9"}  # the killed holder could not take it back
    deadline = time.monotonic() + 5
    found: list[str] = []
    while not found and time.monotonic() < deadline:
        found = orphans(client, claims, lambda m: f"{prefix}{m}")
        time.sleep(0.1)
    assert found == ["9"]  # once its lease ran out (1 s after its last renewal)
    assert orphans(client, claims, lambda m: f"{prefix}{m}") == []  # and only once
    assert client.smembers(claims) == set()


def test_a_lease_that_ran_out_under_a_stalled_holder_is_taken_back(names):
    """A renewed lease whose holder was stalled past it (a starved machine): nobody took it,
    so the next beat takes it back, claim and all, before a sweep hands the work to a second
    worker; one another holder took meanwhile stays theirs."""
    client, claims, prefix = names
    key = f"{prefix}5"
    with exclusive(client, key, 1.0, renew=True, claim=Claim(claims, "5")) as held:
        assert held
        token = client.get(key)
        client.delete(key)  # what running out looks like
        client.srem(claims, "5")  # and an orphan sweep that took the claim meanwhile
        deadline = time.monotonic() + 3
        while not client.exists(key) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get(key) == token
        assert client.smembers(claims) == {b"5"}

        client.set(key, "someone-else", px=5000)  # lost to another holder: left to them
        time.sleep(0.8)
        assert client.get(key) == b"someone-else"
    assert client.get(key) == b"someone-else"  # our release does not touch theirs
