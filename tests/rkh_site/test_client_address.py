"""The client's address is what the ASGI server decided from trusted proxies only: a client's
own ``X-Forwarded-For`` reaches neither the audit log nor anything else; a trusted proxy's does.

The second half runs the real chain: uvicorn's proxy-headers middleware (what ``--proxy-headers``
with ``FORWARDED_ALLOW_IPS`` installs) around the project's ASGI application.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from accounts import api_keys
from orders.models import Order
from rkh_site.asgi import application

PROXY = "10.20.30.40"
CLAIMED = "203.0.113.66"


def _last_order_change() -> LogEntry:
    return LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Order)).latest(
        "timestamp"
    )


@pytest.mark.django_db
def test_a_clients_forwarded_for_does_not_reach_the_audit_log(client, users, make_order):
    order = make_order(users["Manager"])
    client.force_login(users["Manager"])
    response = client.patch(
        f"/api/v1/orders/{order.order_ref}",
        {"notes": "changed"},
        content_type="application/json",
        REMOTE_ADDR="192.0.2.10",
        HTTP_X_FORWARDED_FOR=CLAIMED,
        HTTP_X_REAL_IP=CLAIMED,
    )
    assert response.status_code == 200, response.content
    assert _last_order_change().remote_addr == "192.0.2.10"


def _patch_through_uvicorn(peer: str, trusted: str, order_ref: str, raw_key: str) -> int:
    app = ProxyHeadersMiddleware(application, trusted_hosts=trusted)

    async def send() -> int:
        transport = httpx.ASGITransport(app=app, client=(peer, 51000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.patch(
                f"/api/v1/orders/{order_ref}",
                json={"notes": f"from {peer}"},
                headers={"Authorization": f"Api-Key {raw_key}", "X-Forwarded-For": CLAIMED},
            )
            return response.status_code

    # A thread of its own: another test's event loop may still be set on this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, send()).result()


@pytest.mark.django_db(transaction=True)
def test_forwarded_for_counts_only_from_a_trusted_proxy(users, make_order, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    order = make_order(users["Manager"])
    _, raw = api_keys.create_key(users["Manager"], "proxy test")

    # Through the proxy the deployment trusts: the address it forwards is the client's.
    assert _patch_through_uvicorn(PROXY, PROXY, order.order_ref, raw) == 200
    assert _last_order_change().remote_addr == CLAIMED

    # Straight from a client (not in FORWARDED_ALLOW_IPS): its claim is ignored.
    assert _patch_through_uvicorn("198.51.100.7", PROXY, order.order_ref, raw) == 200
    assert _last_order_change().remote_addr == "198.51.100.7"
