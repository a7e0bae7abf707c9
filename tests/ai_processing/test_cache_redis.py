"""ResultCache: JSON results and edited images in Redis, by image, operation, prompt, model."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.conf import settings

from ai_processing.cache import DEFAULT_TTL, ResultCache, cache_key


@pytest.fixture
def client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def prefix(client):
    prefix = f"test-ai-cache-{uuid.uuid4().hex}"
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


def test_key_depends_on_everything_that_decides_the_result():
    base = cache_key("a" * 64, "edit", "brighten", "runware", "google:4@1", {"aspect": None})
    assert base == cache_key(
        "a" * 64, "edit", "brighten", "runware", "google:4@1", {"aspect": None}
    )
    others = {
        cache_key("b" * 64, "edit", "brighten", "runware", "google:4@1", {"aspect": None}),
        cache_key("a" * 64, "analyze", "brighten", "runware", "google:4@1", {"aspect": None}),
        cache_key("a" * 64, "edit", "darken", "runware", "google:4@1", {"aspect": None}),
        cache_key("a" * 64, "edit", "brighten", "gemini", "google:4@1", {"aspect": None}),
        cache_key("a" * 64, "edit", "brighten", "runware", "google:4@2", {"aspect": None}),
        cache_key("a" * 64, "edit", "brighten", "runware", "google:4@1", {"aspect": "4:5"}),
    }
    assert base not in others
    assert len(others) == 6


def test_json_result_round_trip_with_ttl(client, prefix):
    cache = ResultCache(client, prefix=prefix)
    assert cache.get("k1") is None
    assert cache.set("k1", {"caption": "A cup of coffee", "keywords": ["coffee"]})
    assert cache.get("k1") == ({"caption": "A cup of coffee", "keywords": ["coffee"]}, None)
    assert DEFAULT_TTL - 5 < client.ttl(f"{prefix}:k1") <= DEFAULT_TTL
    assert DEFAULT_TTL == 7 * 24 * 3600


def test_edit_image_stored_beside_its_json(client, prefix):
    cache = ResultCache(client, prefix=prefix, ttl=120)
    cache.set("k2", {"mime_type": "image/jpeg"}, b"\xff\xd8\xff jpeg bytes")
    assert cache.get("k2") == ({"mime_type": "image/jpeg"}, b"\xff\xd8\xff jpeg bytes")
    assert 110 < client.ttl(f"{prefix}:k2:blob") <= 120
    client.delete(f"{prefix}:k2:blob")
    assert cache.get("k2") is None, "a result without its image is a miss"


def test_images_over_the_bound_are_not_cached(client, prefix):
    cache = ResultCache(client, prefix=prefix, max_blob_bytes=10)
    assert not cache.set("k3", {"mime_type": "image/jpeg"}, b"x" * 11)
    assert cache.get("k3") is None
    assert not client.exists(f"{prefix}:k3")
