"""Past one machine (docs/deployment.md "Scaling out"): two web processes (uvicorn) and two
Celery workers, each with a MEDIA_ROOT of its own that must stay empty, sharing nothing but
PostgreSQL, Redis and an S3-compatible object store (moto's server, started by the test).

An order is uploaded through the first web process with the resumable upload protocol; the
connection is cut in the middle of a file and the upload resumes through the second web
process, where the first stopped. The workers ingest, process (Runware simulator) and deliver
it to the PMR simulator. Then: every file is in the PMR once, every object in the store was
written once (the bucket is versioned: one version per key), the upload chunks are gone, and
no process wrote a media file to its local disk.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from PIL import Image as PILImage

from accounts import api_keys
from accounts.roles import MANAGER
from ai_processing.simulator.gemini import GeminiSimulator
from ai_processing.simulator.server import RunwareSimulator
from events.models import Event
from orders.models import Image, Order
from pmr.simulator import PMRSimulator
from tests.ai_processing.pipeline import different_photos, preset
from tests.conftest import make_user
from tests.live.servers import web_processes
from tests.workers import celery_worker_process

WAIT_SECONDS = 240
CHUNK = 64 * 1024
PRESET = "natural-retouch"  # analysis (local), edit and caption (Runware): a processed file


def _photos(n: int) -> list[bytes]:
    files = []
    for data in different_photos(n):
        picture = PILImage.open(io.BytesIO(data)).convert("RGB")
        picture = picture.resize((picture.width * 2, picture.height * 2))
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=90)
        files.append(out.getvalue())
    return files


def _sign_in(client: httpx.Client, username: str, password: str) -> None:
    form = client.get("/accounts/login/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    answer = client.post(
        "/accounts/login/",
        data={"csrfmiddlewaretoken": token, "login": username, "password": password},
        headers={"Referer": f"{client.base_url}/accounts/login/"},
    )
    assert answer.status_code == 302, answer.text[:500]


def _page_client(web, cookies: httpx.Cookies | None = None) -> httpx.Client:
    return httpx.Client(base_url=web.url, cookies=cookies, timeout=60)


def _patch(client: httpx.Client, url: str, offset: int, data: bytes) -> httpx.Response:
    return client.patch(
        url,
        content=data,
        headers={
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            "X-CSRFToken": client.cookies["csrftoken"],
        },
    )


def _local_files(root: Path) -> list[str]:
    return [os.path.join(d, n) for d, _s, names in os.walk(root) for n in names]


@pytest.mark.worker
@pytest.mark.timeout(WAIT_SECONDS + 180)  # four processes to start, on a shared machine
@pytest.mark.django_db(transaction=True)
def test_two_web_processes_and_two_workers_share_only_postgres_redis_and_the_store(
    s3_media, tmp_path
):
    server, bucket = s3_media
    s3 = server.client()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    roots = {name: tmp_path / name for name in ("web-1", "web-2", "worker-1", "worker-2")}
    for name, root in roots.items():
        root.mkdir()
        (tmp_path / f"logs-{name}").mkdir()

    preset(PRESET)
    manager = make_user(MANAGER, password="pw-multinode")
    _, key = api_keys.create_key(manager, "multinode")
    with ExitStack() as stack:
        pmr = stack.enter_context(PMRSimulator(port=0))
        runware = stack.enter_context(RunwareSimulator(seed=7))
        gemini = stack.enter_context(GeminiSimulator())
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.drills.settings",
            "PMR_BASE_URL": pmr.base_url,
            "PMR_CLIENT_ATTEMPTS": "2",
            "RUNWARE_URL": runware.ws_url,
            "RUNWARE_API_KEY": "multinode-key",
            "GEMINI_BASE_URL": gemini.url,
            "GEMINI_API_KEY": "multinode-key",
            "AI_PROVIDERS": "runware,local",
            "AI_PROVIDER_CONCURRENCY": '{"runware": 2, "local": 2}',
            "UPLOAD_CHUNK_BYTES": str(CHUNK),
            "API_THROTTLE_RATE": "100000/minute",
            **server.env(bucket),
        }
        event = Event.objects.create(event_id="MULTI-001", name="Two nodes")
        pmr.add_events([{"event_id": event.event_id, "name": event.name, "status": "open"}], [])
        webs = []
        for i in (1, 2):
            (web,) = stack.enter_context(
                web_processes(
                    1, media_root=roots[f"web-{i}"], log_dir=tmp_path / f"logs-web-{i}", env=env
                )
            )
            webs.append(web)
        workers = [
            stack.enter_context(
                celery_worker_process(
                    "default,ingest,ai,pmr",
                    media_root=roots[f"worker-{i}"],
                    log_dir=tmp_path,
                    env=env,
                    purge=i == 1,
                    log_name=f"worker-{i}.log",
                )
            )
            for i in (1, 2)
        ]

        api = stack.enter_context(
            httpx.Client(
                base_url=f"{webs[0].url}/api/v1",
                headers={"Authorization": f"Api-Key {key}"},
                timeout=60,
            )
        )
        created = api.post(
            "/orders", json={"event": event.event_id, "customer_name": "Two", "preset": PRESET}
        )
        assert created.status_code == 201, created.text
        ref = created.json()["order_ref"]

        first = stack.enter_context(_page_client(webs[0]))
        _sign_in(first, manager.username, "pw-multinode")
        photos = _photos(2)
        for n, data in enumerate(photos):
            opened = first.post(
                f"/orders/{ref}/uploads/",
                json={"filename": f"IMG_{n:04d}.jpg", "size": len(data)},
                headers={"X-CSRFToken": first.cookies["csrftoken"]},
            )
            assert opened.status_code == 201, opened.text
            url = f"/orders/{ref}/uploads/{opened.json()['id']}/"
            offset, cut = 0, (len(data) // 2) if n == 0 else len(data)
            while offset < cut:
                answer = _patch(first, url, offset, data[offset : offset + CHUNK])
                assert answer.status_code == 200, answer.text
                offset = answer.json()["offset"]
            if n == 0:
                # The connection to the first web process is gone; the browser reconnects to
                # the second, asks where the upload stands and goes on from there.
                assert 0 < offset < len(data)
                second = _page_client(webs[1], cookies=first.cookies)
                with second:
                    status = second.get(url)
                    assert status.status_code == 200, status.text
                    assert status.json()["offset"] == offset
                    while offset < len(data):
                        answer = _patch(second, url, offset, data[offset : offset + CHUNK])
                        assert answer.status_code == 200, answer.text
                        offset = answer.json()["offset"]
                    assert answer.json()["done"] is True

        with httpx.Client(
            base_url=f"{webs[1].url}/api/v1",
            headers={"Authorization": f"Api-Key {key}"},
            timeout=60,
        ) as other_api:
            submitted = other_api.post(f"/orders/{ref}/submit")
            assert submitted.status_code == 200, submitted.text

        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            order = Order.objects.get(order_ref=ref)
            if order.status in (Order.Status.COMPLETED, Order.Status.FAILED):
                break
            time.sleep(0.5)
        logs = "\n".join(w.log.read_text()[-3000:] for w in workers)
        assert order.status == Order.Status.COMPLETED, (
            f"{order.status}: {list(order.images.values_list('status', 'status_reason'))}\n{logs}"
        )

        # Every file of every image is in the PMR, written once.
        remote = next(o for o in pmr.state()["orders"] if o["order_ref"] == ref)
        assert len(remote["images"]) == 2
        assert remote["files"]
        assert {f["writes"] for f in remote["files"]} == {1}
        images = list(Image.objects.filter(order__order_ref=ref))
        assert sorted(i.sha256 for i in images) == sorted(
            hashlib.sha256(d).hexdigest() for d in photos
        )

    # Every object in the store was written once; the upload chunks were deleted after use.
    versions = s3.list_object_versions(Bucket=bucket)
    written: dict[str, int] = {}
    for version in versions.get("Versions", []):
        written[version["Key"]] = written.get(version["Key"], 0) + 1
    assert written
    assert set(written.values()) == {1}, {k: v for k, v in written.items() if v > 1}
    live = set(server.keys(bucket))
    expected = {name for image in images for name in image.stored_files()}
    assert live == expected
    chunks = {k for k in written if k.startswith("uploads/")}
    assert chunks
    assert not chunks & live
    # No process kept a media file on its own disk.
    for name, root in roots.items():
        assert _local_files(root) == [], name
