"""Live status across processes: two web processes, a real worker, one Redis.

A client signed in with a session cookie listens on web process 1 (the
``websockets`` package, as any program would). It must see, in order and
each once, entries written by three other processes: the test (the upload),
a real Celery worker (the ingest it runs) and web process 2 (an edit through
the REST API). Nothing is shared between them but PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import string
import urllib.request
from pathlib import Path

import pytest
from django.db import connection
from websockets.asyncio.client import connect

from ai_processing.models import ProcessingPreset
from orders import intake
from orders.models import Image, Order
from tests.asyncio_helpers import run_async
from tests.live.conftest import session_cookie
from tests.live.servers import web_processes
from tests.workers import celery_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PHOTOS = ("rocket.jpg", "coffee.png")
SECONDS = 60


def photo(name: str) -> bytes:
    return (Path(__file__).resolve().parents[1] / "data" / "photos" / name).read_bytes()


def patch_through(web_url: str, ref: str, sessionid: str, notes: str) -> int:
    """``PATCH /api/v1/orders/<ref>/`` on that web process, signed in by session (with CSRF)."""
    csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    request = urllib.request.Request(
        f"{web_url}/api/v1/orders/{ref}/",
        data=json.dumps({"notes": notes}).encode(),
        method="PATCH",
        headers={
            "Content-Type": "application/json",
            "Cookie": f"sessionid={sessionid}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
        },
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.status


def test_client_on_web_1_sees_worker_and_web_2_changes_in_order(
    users, make_order, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    preset = ProcessingPreset.objects.create(name="Live test", slug="live-test", operations=[])
    manager = users["Manager"]
    order = make_order(manager, preset=preset)
    after = Order.objects.get(pk=order.pk).last_event_seq
    sessionid = session_cookie(manager)

    def upload() -> list[int]:
        try:
            return [
                intake.add_image(order, source=io.BytesIO(photo(n)), filename=n, actor=manager).pk
                for n in PHOTOS
            ]
        finally:
            connection.close()  # this thread's own connection: the test database is dropped

    with (
        celery_worker(
            "ingest,ai",
            media_root=settings.MEDIA_ROOT,
            log_dir=tmp_path,
            env={"AI_PROVIDERS": "local"},
        ) as worker_log,
        web_processes(2, media_root=settings.MEDIA_ROOT, log_dir=tmp_path) as (web1, web2),
    ):

        async def scenario():
            url = f"{web1.ws_url}/ws/orders/{order.order_ref}/?after={after}"
            async with connect(
                url, origin=web1.url, additional_headers={"Cookie": f"sessionid={sessionid}"}
            ) as ws:
                first = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert first["type"] == "events"
                assert first["events"] == []
                image_ids = await asyncio.to_thread(upload)
                status = await asyncio.to_thread(
                    patch_through, web2.url, order.order_ref, sessionid, "edited on web 2"
                )
                assert status == 200
                events: list[dict] = []
                ingested: set[int] = set()
                edited = False
                loop = asyncio.get_running_loop()
                deadline = loop.time() + SECONDS
                while not (edited and ingested == set(image_ids)):
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
                    except TimeoutError:
                        break
                    for event in message.get("events", []):
                        events.append(event)
                        payload = event["payload"]
                        if event["kind"] == "image.status_changed" and payload["to"] == "ingested":
                            ingested.add(payload["image"])
                        if event["kind"] == "order.updated":
                            edited = True
                return image_ids, events, ingested, edited

        image_ids, events, ingested, edited = run_async(scenario(), timeout=SECONDS + 30)
        diagnosis = (
            f"events: {[(e['seq'], e['kind'], e['payload'].get('to')) for e in events]}\n"
            f"images: {list(Image.objects.filter(order=order).values_list('pk', 'status'))}\n"
            f"worker log:\n{worker_log.read_text()[-2000:]}\n"
            f"web 1 log:\n{web1.log.read_text()[-1500:]}\n"
            f"web 2 log:\n{web2.log.read_text()[-1500:]}"
        )
        assert ingested == set(image_ids), diagnosis  # written by the worker
        assert edited, diagnosis  # written by web process 2
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(after + 1, after + 1 + len(seqs))), diagnosis
        # The edit came through web 2 with the manager as actor; the ingest as the system.
        (edit,) = [e for e in events if e["kind"] == "order.updated"]
        assert edit["actor"] == str(manager)
        assert all(
            e["actor"] == ""
            for e in events
            if e["kind"] == "image.status_changed" and e["payload"]["to"] == "ingested"
        )
