"""The API while Redis is away (issue 11, item 9): reads that need only the database work,
what needs Redis answers 503 with ``Retry-After``, nothing answers 500.

Redis "away" is a cache and Redis URL on a port where nothing listens (the outside edge).
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import api_keys
from accounts.roles import MANAGER
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
DEAD = "redis://127.0.0.1:9/0"


@pytest.fixture
def redis_away(settings):
    """``redis_away()``: from now on nothing answers where Redis was."""
    from django.core.cache import caches as live

    def _away() -> None:
        caches = {name: dict(config) for name, config in settings.CACHES.items()}
        caches["default"]["LOCATION"] = DEAD
        settings.CACHES = caches
        settings.API_THROTTLE_RATE = "1000/minute"  # counted in Redis: must fail open
        settings.REDIS_URL = DEAD
        live["default"].close()

    yield _away
    live["default"].close()


@pytest.fixture
def manager(db):
    return make_user(MANAGER)


def _key_client(user) -> APIClient:
    _, raw = api_keys.create_key(user, "outage test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def test_reads_by_api_key_work_while_redis_is_away(manager, make_order, redis_away):
    order = make_order(manager)
    client = _key_client(manager)
    redis_away()
    listed = client.get("/api/v1/orders")
    assert listed.status_code == 200, listed.content[:300]
    assert [o["order_ref"] for o in listed.json()["results"]] == [order.order_ref]
    assert client.get(f"/api/v1/orders/{order.order_ref}").status_code == 200
    assert client.get(f"/api/v1/orders/{order.order_ref}/timeline?after=0").status_code == 200


def test_reads_by_session_work_while_redis_is_away(manager, make_order, redis_away):
    order = make_order(manager)
    client = APIClient()
    client.force_login(manager)  # the session is in the database (and in the cache)
    redis_away()
    response = client.get(f"/api/v1/orders/{order.order_ref}")
    assert response.status_code == 200, response.content[:300]
    page = client.get(f"/orders/{order.order_ref}/")
    assert page.status_code == 200


def test_what_needs_redis_answers_503_with_retry_after(manager, redis_away):
    client = _key_client(manager)
    redis_away()
    response = client.get("/api/v1/ai/status")
    assert response.status_code in (200, 503), response.content[:300]
    # Creating an order asks the PMR through its breaker, in Redis: 503, come back later.
    from events.models import Event

    event = Event.objects.create(event_id="EVT-OUTAGE", name="Outage")
    created = client.post(
        "/api/v1/orders", {"event": event.event_id, "customer_name": "A"}, format="json"
    )
    assert created.status_code == 503, created.content[:300]
    assert created["Retry-After"] == "30"
    error = created.json()["error"]
    assert error["code"] == "unavailable"
    assert "Redis is not answering" in error["message"]


def test_a_page_that_meets_an_outage_answers_503_not_500(manager, redis_away, monkeypatch):
    """An outage raised anywhere in a request (a view, a middleware) reaches handler500,
    which answers 503 with Retry-After."""
    import redis
    from django.test import Client

    from orders import views

    def down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:9.")

    monkeypatch.setattr(views.selectors, "order_page", down)
    client = Client(raise_request_exception=False)
    client.force_login(manager)
    response = client.get("/orders/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Redis is not answering" in response.content.decode()
