"""The AI step's part of the dashboard's "Needs attention": a provider whose circuit is open
(opened in real Redis, as the chain does), since when and what happens meanwhile; gone when
the circuit closes; who sees which links."""

from __future__ import annotations

import datetime as dt

import pytest
import redis

from ai_processing.providers.registry import chain_from_settings
from orders import attention

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clean_circuits(settings):
    url = settings.REDIS_URL  # a test may point the settings at a Redis that is not there

    def clean() -> None:
        client = redis.Redis.from_url(url)
        keys = [*client.scan_iter("rkh:ai:breaker*")]
        if keys:
            client.delete(*keys)

    clean()
    yield
    clean()


def _ai_items(user) -> dict[str, attention.Item]:
    return {i.key: i for i in attention.collect(user).items if i.key.startswith("ai.")}


def _open(name: str, settings) -> None:
    breaker = chain_from_settings().breaker
    for _ in range(settings.AI_BREAKER_FAILURES):
        breaker.record_failure(name)


def test_a_provider_down_appears_and_goes(settings, users):
    settings.AI_PROVIDERS = ["runware", "gemini", "local"]
    assert _ai_items(users["Manager"]) == {}
    _open("runware", settings)
    down_since = chain_from_settings().breaker.state("runware")["down_since"]

    item = _ai_items(users["Manager"])["ai.down.runware"]
    assert item.level == "warning"
    since = attention.since(dt.datetime.fromtimestamp(down_since, tz=dt.UTC))
    assert item.text == (
        f"Runware is not answering ({since}, 5 failures in a row): images go to Gemini "
        "instead; it is tried again by itself. If it stays down, check its key and status page."
    )
    assert [link.url for link in item.links] == ["/api/v1/ai/status"]
    # Viewers read the status too (analytics); a User gets the fact without the link.
    assert [link.url for link in _ai_items(users["Viewer"])["ai.down.runware"].links] == [
        "/api/v1/ai/status"
    ]
    user_item = _ai_items(users["User"])["ai.down.runware"]
    assert user_item.links == ()
    assert user_item.text.endswith("images go to Gemini instead; it is tried again by itself.")
    assert _ai_items(users["norole"]) == {}

    chain_from_settings().breaker.record_success("runware")  # it answered again
    assert _ai_items(users["Manager"]) == {}


def test_every_provider_down_is_an_error(settings, users):
    settings.AI_PROVIDERS = ["runware", "gemini"]
    _open("runware", settings)
    _open("gemini", settings)
    (item,) = _ai_items(users["Manager"]).values()
    assert item.key == "ai.all_down"
    assert item.level == "error"
    assert item.text == (
        "No AI service is answering (Runware, Gemini): images wait for review until one "
        "answers again."
    )


def test_unreadable_state_says_so(settings, users):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    item = _ai_items(users["Manager"])["ai.unknown"]
    assert item.text == "The AI services' state cannot be read just now (Redis did not answer)."
