"""The Runware client against the simulator: auth, resume, timeouts, caps, threads."""

import asyncio
import base64
import io
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from ai_processing.clients.errors import (
    RunwareAuthError,
    RunwareBadRequest,
    RunwareCapacityError,
    RunwareConnectionError,
    RunwareTimeout,
    error_from_payload,
)
from ai_processing.clients.runware import RunwareClient, get_client, nearest_allowed_size
from ai_processing.simulator import RunwareSimulator


def jpeg(colour=(200, 120, 30), size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


def uri(data: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(data).decode()


@pytest.fixture
def sim():
    with RunwareSimulator(seed=3) as s:
        yield s


@pytest.fixture
def client(sim):
    c = RunwareClient("key", sim.ws_url, task_timeout=5, ping_interval=0.5, backoff_base=0.05)
    yield c
    c.close()


def faults(sim, **kw):
    httpx.post(sim.http_url + "/_sim/faults", json=kw).raise_for_status()


def state(sim):
    return httpx.get(sim.http_url + "/_sim/state").json()


def caption_tasks(n):
    return [{"taskType": "imageCaption", "inputImage": uri(jpeg())} for _ in range(n)]


def test_nearest_allowed_size():
    assert nearest_allowed_size(64, 48) == (1184, 864)
    assert nearest_allowed_size(4000, 6000) == (832, 1248)
    assert nearest_allowed_size(500, 500) == (1024, 1024)
    assert nearest_allowed_size(2100, 900) == (1536, 672)


def test_high_level_methods(client):
    src = jpeg()
    result = client.image_inference(src, "make it warmer", width=1248, height=832)
    assert result.cost == 0.039
    assert result.image_uuid
    assert result.seed is not None
    out = client.download(result.image_url)
    assert Image.open(io.BytesIO(out)).size == (1248, 832)
    cap = client.caption(src)
    assert "landscape" in cap.text
    assert cap.cost is not None
    up = client.upload(src)
    assert client.download(up.image_url) == src


def test_auth_failure_is_quick():
    with RunwareSimulator(api_key="right") as s:
        c = RunwareClient("wrong", s.ws_url, task_timeout=5)
        started = time.monotonic()
        with pytest.raises(RunwareAuthError) as exc:
            c.caption(jpeg())
        assert time.monotonic() - started < 1.5
        assert exc.value.code == "invalidApiKey"
        assert not exc.value.retryable


def test_bad_request_mapped(client):
    with pytest.raises(RunwareBadRequest) as exc:
        client.image_inference(jpeg(), "x", width=500, height=500)
    assert exc.value.code == "invalidDimensions"
    assert not exc.value.retryable


def test_capacity_errors_mapped(sim, client):
    faults(sim, capacity_errors=1)
    with pytest.raises(RunwareCapacityError) as exc:
        client.caption(jpeg())
    assert exc.value.retryable
    assert exc.value.code == "timeoutProvider"
    assert client.caption(jpeg()).text


def test_error_mapping_table():
    assert isinstance(error_from_payload({"code": "x", "statusCode": 429}), RunwareCapacityError)
    assert isinstance(error_from_payload({"code": "missingApiKey"}), RunwareAuthError)
    assert error_from_payload({"code": "providerError", "statusCode": 500}).retryable


def test_one_connection_many_calls_out_of_order(sim, client):
    faults(sim, latency=0.05)
    tasks = caption_tasks(12)
    results = client.submit(tasks)
    assert [r["taskUUID"] for r in results] == [
        t["taskUUID"] for t in tasks if "taskUUID" in t
    ] or (len({r["taskUUID"] for r in results}) == 12)
    for _ in range(3):
        client.caption(jpeg())
    st = state(sim)
    assert st["connections"] == 1
    assert st["tasks"]["imageCaption"] == 15


def test_in_flight_cap(sim):
    c = RunwareClient("key", sim.ws_url, max_in_flight=2, task_timeout=5)
    faults(sim, latency=0.1)
    c.submit(caption_tasks(8))
    assert state(sim)["max_in_flight"] == 2
    c.close()


def test_per_task_timeout(sim):
    c = RunwareClient("key", sim.ws_url, task_timeout=0.3)
    faults(sim, latency=2)
    started = time.monotonic()
    with pytest.raises(RunwareTimeout) as exc:
        c.caption(jpeg())
    assert time.monotonic() - started < 1.5
    assert exc.value.retryable
    c.close()


def test_tasks_in_flight_fail_within_seconds_when_the_service_is_gone():
    """Runware dies mid-task and does not come back: the task fails once reconnecting has
    failed (a few quick attempts), not after its 60 s timeout, so the chain falls back to
    Gemini at once (issue 11, item 7)."""
    runware = RunwareSimulator(seed=3).start()
    c = RunwareClient("key", runware.ws_url, task_timeout=60, connect_attempts=3, backoff_base=0.05)
    try:
        c.caption(jpeg())  # connected
        faults(runware, latency=30)
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(c.caption, jpeg())
            time.sleep(0.3)  # the task is at the service
            runware.stop()  # gone: its socket closes, its port refuses
            stopped = time.monotonic()
            with pytest.raises(RunwareConnectionError, match="not re-established"):
                fut.result(timeout=30)
            assert time.monotonic() - stopped < 5
        # The next call does not hang either: it cannot connect and says so.
        started = time.monotonic()
        with pytest.raises(RunwareConnectionError):
            c.caption(jpeg())
        assert time.monotonic() - started < 5
    finally:
        c.close()
        runware.stop()


def test_reconnect_mid_batch_resumes_without_duplicates(sim, client):
    client.caption(jpeg())  # connected
    faults(sim, latency=0.4)
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(client.submit, caption_tasks(4))
        time.sleep(0.15)
        assert httpx.post(sim.http_url + "/_sim/drop").json()["dropped"] == 1
        results = fut.result(timeout=10)
    assert len({r["taskUUID"] for r in results}) == 4
    st = state(sim)
    assert st["resumes"] >= 1
    assert st["duplicate_runs"] == 0
    assert st["tasks"]["imageCaption"] == 5


def test_drop_rate_no_task_lost_or_duplicated(sim, client):
    faults(sim, latency=0.05, drop_rate=0.5)
    for _ in range(4):
        client.submit(caption_tasks(3))
    st = state(sim)
    assert st["tasks"]["imageCaption"] == 12
    assert st["duplicate_runs"] == 0
    assert st["drops"] >= 1
    assert st["resumes"] >= 1


def test_usable_from_threads_and_pooled(sim):
    c = get_client("key", sim.ws_url, task_timeout=5)
    assert get_client("key", sim.ws_url) is c
    faults(sim, latency=0.02)
    with ThreadPoolExecutor(6) as pool:
        texts = list(pool.map(lambda _: c.caption(jpeg()).text, range(18)))
    assert len(texts) == 18
    assert len(set(texts)) == 1
    st = state(sim)
    assert st["connections"] == 1
    assert st["max_in_flight"] <= 4
    c.close()


def test_sync_call_refused_on_loop_thread(client):
    async def inner():
        return client.caption(jpeg())

    with pytest.raises(RuntimeError):
        asyncio.run_coroutine_threadsafe(inner(), client._loop).result(5)
