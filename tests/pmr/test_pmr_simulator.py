"""The PMR simulator on the wire (raw httpx): auth, idempotency, faults, webhooks, persistence.

The client hides most of these details; here they are checked as the contract states them,
so the simulator can be trusted by the client tests and by the project's own tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from pmr.clients import PMRClient, WebhookVerificationError, verify
from pmr.simulator import PMRSimulator
from utilities.simulation.background import BackgroundServer

ROOT = Path(__file__).resolve().parents[2]
SECRET = "demo-webhook-secret"
WEDDING = "EVT-2026-WED-0142"
DATA = b"\x89PNG\r\n\x1a\n" + b"pixels" * 1000
DATA_SHA = hashlib.sha256(DATA).hexdigest()


class ReceiverCore:
    """What the project's webhook view must do: verify, refuse, deduplicate by delivery."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.done: set[str] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/pmr/webhook", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        headers = dict(request.headers)
        self.received.append({"headers": headers, "raw": raw})
        try:
            verify(
                SECRET,
                headers.get("X-PMR-Timestamp"),
                headers.get("X-PMR-Signature"),
                raw,
                headers.get("X-PMR-Delivery"),
            )
        except WebhookVerificationError as exc:
            body = {"error": {"code": exc.reason, "message": str(exc), "details": {}}}
            return web.json_response(body, status=401)
        delivery = headers["X-PMR-Delivery"]
        if delivery in self.done:
            return web.json_response({"status": "duplicate"})
        self.done.add(delivery)
        return web.json_response({"status": "accepted"})


class Receiver(BackgroundServer):
    thread_name = "webhook-receiver"

    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0)
        self.core = ReceiverCore()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/pmr/webhook"


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture(scope="module")
def sim(receiver):
    with PMRSimulator(webhook_url=receiver.url, max_image_bytes=64 * 1024) as simulator:
        yield simulator


@pytest.fixture
def http(sim):
    sim.reset()
    with httpx.Client(base_url=sim.base_url, timeout=10) as client:
        yield client


def token(http: httpx.Client, scope: str = "pmr.read pmr.write") -> str:
    answer = http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "scope": scope,
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"
    return answer.json()["access_token"]


def auth(value: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}", "X-API-Key": "demo-api-key", **extra}


def error_code(answer: httpx.Response) -> str:
    body = answer.json()
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]["code"]


def make_order(http: httpx.Client, headers: dict, ref: str = "ORD-2026-000001") -> dict:
    answer = http.put(
        f"/v1/orders/{ref}",
        json={"event_id": WEDDING},
        headers={**headers, "Idempotency-Key": f"make-{ref}"},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def image_headers(headers: dict, key: str, sha: str = DATA_SHA) -> dict:
    return {
        **headers,
        "Idempotency-Key": key,
        "Content-Type": "image/png",
        "X-Content-SHA256": sha,
        "X-Filename": "a.png",
    }


# ---- seed ---------------------------------------------------------------------------------


def test_seed_has_the_demo_events_and_one_closed_event(sim, http):
    state = sim.state()
    events = {event["event_id"]: event for event in state["events"]}
    assert set(events) == {
        "EVT-2026-WED-0142",
        "EVT-2026-SCH-0307",
        "EVT-2026-SPO-0019",
        "EVT-2025-WED-0999",
    }
    assert events["EVT-2025-WED-0999"]["status"] == "closed"
    assert {e["status"] for k, e in events.items() if k != "EVT-2025-WED-0999"} == {"open"}
    customers = {customer["customer_id"] for customer in state["customers"]}
    assert {event["customer_id"] for event in events.values()} <= customers
    emails = {customer["email"] for customer in state["customers"]}
    assert {"lena@example.com", "okafor@example.com", "runner4471@example.com"} <= emails


# ---- OAuth and the per-call checks --------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "status", "code"),
    [
        ({"grant_type": "password", "client_id": "demo-client", "client_secret": "demo-secret"},
         400, "unsupported_grant_type"),
        ({"client_id": "demo-client"}, 400, "invalid_request"),
        ({"grant_type": "client_credentials", "client_id": "demo-client",
          "client_secret": "demo-secret", "scope": "pmr.admin"}, 400, "invalid_scope"),
        ({"grant_type": "client_credentials", "client_id": "demo-client",
          "client_secret": "nope"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "someone",
          "client_secret": "demo-secret"}, 401, "invalid_client"),
    ],
)  # fmt: skip
def test_token_endpoint_refusals(http, form, status, code):
    answer = http.post("/oauth/token", data=form)
    assert answer.status_code == status
    assert error_code(answer) == code


def test_token_answer_and_ttl(sim, http):
    sim.set_tokens(ttl=120)
    answer = http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
        },
    )
    body = answer.json()
    assert (body["expires_in"], body["scope"]) == (120, "pmr.read pmr.write")
    assert answer.headers["Cache-Control"] == "no-store"


def test_every_v1_call_needs_bearer_and_api_key(sim, http):
    value = token(http)
    assert http.get("/v1/health", headers=auth(value)).json() == {
        "status": "ok",
        "version": "1.7.0",
    }
    missing = http.get("/v1/health", headers={"X-API-Key": "demo-api-key"})
    assert (missing.status_code, error_code(missing)) == (401, "invalid_token")
    unknown = http.get("/v1/health", headers=auth("forged"))
    assert (unknown.status_code, error_code(unknown)) == (401, "invalid_token")
    no_key = http.get("/v1/health", headers={"Authorization": f"Bearer {value}"})
    assert (no_key.status_code, error_code(no_key)) == (401, "invalid_api_key")
    sim.set_tokens(expire_all=True)
    expired = http.get("/v1/health", headers=auth(value))
    assert (expired.status_code, error_code(expired)) == (401, "token_expired")


def test_read_scope_cannot_write(http):
    value = token(http, scope="pmr.read")
    assert http.get(f"/v1/events/{WEDDING}", headers=auth(value)).status_code == 200
    answer = http.put(
        "/v1/orders/ORD-2026-000001",
        json={"event_id": WEDDING},
        headers=auth(value, **{"Idempotency-Key": "k"}),
    )
    assert (answer.status_code, error_code(answer)) == (403, "insufficient_scope")


def test_unknown_route_answers_in_the_error_shape(http):
    answer = http.get("/v1/nothing-here", headers=auth(token(http)))
    assert (answer.status_code, error_code(answer)) == (404, "not_found")


# ---- writes -------------------------------------------------------------------------------


def test_writes_need_an_idempotency_key(http):
    answer = http.put(
        "/v1/orders/ORD-2026-000001", json={"event_id": WEDDING}, headers=auth(token(http))
    )
    assert (answer.status_code, error_code(answer)) == (422, "validation_failed")
    assert answer.json()["error"]["details"] == {"header": "Idempotency-Key"}


def test_replay_is_marked_and_identical(http):
    headers = auth(token(http), **{"Idempotency-Key": "same"})
    first = http.put("/v1/orders/ORD-2026-000001", json={"event_id": WEDDING}, headers=headers)
    second = http.put("/v1/orders/ORD-2026-000001", json={"event_id": WEDDING}, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"


def test_failed_writes_are_not_remembered(sim, http):
    headers = auth(token(http), **{"Idempotency-Key": "retry-me"})
    sim.add_events([{"event_id": "EVT-LATE", "name": "Late", "status": "closed"}])
    refused = http.put("/v1/orders/ORD-2026-000001", json={"event_id": "EVT-LATE"}, headers=headers)
    assert (refused.status_code, error_code(refused)) == (409, "event_closed")
    sim.add_events([{"event_id": "EVT-LATE", "name": "Late", "status": "open"}])
    accepted = http.put(
        "/v1/orders/ORD-2026-000001", json={"event_id": "EVT-LATE"}, headers=headers
    )
    assert accepted.status_code == 201


def test_image_put_counts_and_refusals(sim, http):
    headers = auth(token(http))
    make_order(http, headers)
    url = "/v1/orders/ORD-2026-000001/images/IMG-1"
    assert http.put(url, content=DATA, headers=image_headers(headers, "i1")).status_code == 201
    assert http.put(url, content=DATA, headers=image_headers(headers, "i2")).status_code == 200
    wrong = http.put(url, content=DATA, headers=image_headers(headers, "i3", sha="a" * 64))
    assert (wrong.status_code, error_code(wrong)) == (422, "checksum_mismatch")
    conflict = http.put(
        url, content=DATA + b"x", headers=image_headers(headers, "i1", sha="b" * 64)
    )
    assert (conflict.status_code, error_code(conflict)) == (409, "idempotency_conflict")
    not_image = {**image_headers(headers, "i4"), "Content-Type": "text/plain"}
    assert http.put(url, content=DATA, headers=not_image).status_code == 422
    bad_meta = {**image_headers(headers, "i5"), "X-Image-Metadata": "not base64!"}
    assert http.put(url, content=DATA, headers=bad_meta).status_code == 422
    big = os.urandom(64 * 1024 + 1)
    too_big = http.put(
        url, content=big, headers=image_headers(headers, "i6", hashlib.sha256(big).hexdigest())
    )
    assert (too_big.status_code, error_code(too_big)) == (413, "payload_too_large")
    image = sim.state()["orders"][0]["images"][0]
    assert (image["writes"], image["puts"], image["sha256"]) == (1, 7, DATA_SHA)


def test_an_order_completes_only_with_every_announced_image(http):
    """``expected_image_count`` is a promise: the PMR refuses "completed" short of it."""
    headers = auth(token(http))
    ref = "ORD-2026-000001"
    put = http.put(
        f"/v1/orders/{ref}",
        json={"event_id": WEDDING, "expected_image_count": 2},
        headers={**headers, "Idempotency-Key": "expect-2"},
    )
    assert put.status_code == 201
    url = f"/v1/orders/{ref}/images/IMG-1"
    assert http.put(url, content=DATA, headers=image_headers(headers, "i1")).status_code == 201

    def complete(key: str) -> httpx.Response:
        return http.patch(
            f"/v1/orders/{ref}",
            json={"status": "completed"},
            headers={**headers, "Idempotency-Key": key},
        )

    short = complete("done-1")
    assert (short.status_code, error_code(short)) == (409, "images_missing")
    assert short.json()["error"]["details"] == {"expected": 2, "stored": 1}
    assert http.get(f"/v1/orders/{ref}", headers=headers).json()["status"] == "received"
    # A person decided to deliver one image: the order says so first, then completes.
    http.put(
        f"/v1/orders/{ref}",
        json={"event_id": WEDDING, "expected_image_count": 1},
        headers={**headers, "Idempotency-Key": "expect-1"},
    ).raise_for_status()
    done = complete("done-2")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"


def test_download_serves_the_stored_bytes(http):
    headers = auth(token(http))
    make_order(http, headers)
    url = "/v1/orders/ORD-2026-000001/images/IMG-1"
    stored = http.put(url, content=DATA, headers=image_headers(headers, "i1")).json()
    assert stored["url"].endswith(url)
    answer = http.get(url, headers=headers)
    assert answer.content == DATA
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.headers["X-Content-SHA256"] == DATA_SHA


def test_bad_cursor_and_missing_since(http):
    headers = auth(token(http))
    assert http.get("/v1/orders", headers=headers).status_code == 422
    bad = http.get(
        "/v1/orders",
        params={"updated_since": "2026-01-01T00:00:00Z", "cursor": "x"},
        headers=headers,
    )
    assert (bad.status_code, bad.json()["error"]["details"]) == (422, {"parameter": "cursor"})
    naive = http.get("/v1/orders", params={"updated_since": "2026-01-01T00:00:00"}, headers=headers)
    assert naive.status_code == 422


# ---- faults -------------------------------------------------------------------------------


def test_down_answers_503_on_every_call_including_token(sim, http):
    sim.set_faults(down=True)
    answer = http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert (answer.status_code, error_code(answer)) == (503, "unavailable")
    assert http.get("/v1/health").status_code == 503
    assert sim.state()["faults"]["down"] is True


def test_injected_429_carries_retry_after(sim, http):
    value = token(http)
    sim.set_faults(fail_next=1, error_status=429, retry_after=7)
    limited = http.get("/v1/health", headers=auth(value))
    assert (limited.status_code, error_code(limited)) == (429, "rate_limited")
    assert limited.headers["Retry-After"] == "7"
    assert http.get("/v1/health", headers=auth(value)).status_code == 200


def test_error_rate_one_fails_every_call(sim, http):
    value = token(http)
    sim.set_faults(error_rate=1.0, error_status=500)
    statuses = {http.get("/v1/health", headers=auth(value)).status_code for _ in range(3)}
    assert statuses == {500}
    assert sim.state()["statuses"]["500"] == 3


@pytest.mark.parametrize(
    "faults",
    [{"error_status": 404}, {"error_rate": 2}, {"nonsense": True}, {"latency_ms": -1}],
)
def test_bad_faults_are_refused(sim, faults):
    with pytest.raises(httpx.HTTPStatusError) as caught:
        sim.set_faults(**faults)
    assert caught.value.response.status_code == 400


def test_latency_delays_answers(sim, http):
    sim.set_faults(latency_ms=150)
    started = time.monotonic()
    http.get("/v1/health")
    assert time.monotonic() - started >= 0.15


# ---- webhooks -----------------------------------------------------------------------------


def test_webhook_is_signed_and_changes_the_order(sim, http, receiver):
    headers = auth(token(http))
    make_order(http, headers)
    receiver.core.received.clear()
    sent = sim.send_webhook(order_ref="ORD-2026-000001", status="delivered")
    assert sent["answer"] == {"status": 200, "body": {"status": "accepted"}}
    (delivery,) = receiver.core.received
    got = delivery["headers"]
    assert got["X-PMR-Event"] == "order.status_changed"
    assert got["X-PMR-Delivery"] == sent["delivery_id"]
    assert verify(
        SECRET, got["X-PMR-Timestamp"], got["X-PMR-Signature"], delivery["raw"], sent["delivery_id"]
    )
    body = json.loads(delivery["raw"])
    assert body["order_ref"] == "ORD-2026-000001"
    assert (body["status"], body["status_reason"]) == ("delivered", None)
    order = http.get("/v1/orders/ORD-2026-000001", headers=headers).json()
    assert order["status"] == "delivered"
    assert order["updated_at"] == body["changed_at"]


def test_repeated_delivery_reuses_id_and_body(sim, http, receiver):
    make_order(http, auth(token(http)))
    first = sim.send_webhook(order_ref="ORD-2026-000001", status="rejected", status_reason="blur")
    again = sim.send_webhook(repeat_delivery=first["delivery_id"])
    assert again["delivery_id"] == first["delivery_id"]
    assert again["body"] == first["body"]
    assert again["answer"]["body"] == {"status": "duplicate"}
    (delivery,) = sim.state()["deliveries"]
    assert len(delivery["attempts"]) == 2


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"signature": "sha256=" + "0" * 64}, "bad_signature"),
        ({"timestamp": 1_000_000_000}, "stale"),
        ({"timestamp": 4_000_000_000}, "future"),
    ],
)
def test_overrides_let_tests_send_refusable_webhooks(sim, http, override, reason):
    make_order(http, auth(token(http)))
    sent = sim.send_webhook(order_ref="ORD-2026-000001", status="on_hold", **override)
    assert sent["answer"]["status"] == 401
    assert sent["answer"]["body"]["error"]["code"] == reason


def test_webhook_for_unknown_order_or_status(sim, http):
    with pytest.raises(httpx.HTTPStatusError) as unknown:
        sim.send_webhook(order_ref="ORD-NOPE", status="delivered")
    assert unknown.value.response.status_code == 404
    make_order(http, auth(token(http)))
    with pytest.raises(httpx.HTTPStatusError) as bad:
        sim.send_webhook(order_ref="ORD-2026-000001", status="lost")
    assert bad.value.response.status_code == 400


def test_webhook_to_a_closed_port_reports_the_error(sim, http):
    make_order(http, auth(token(http)))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sent = sim.send_webhook(
        order_ref="ORD-2026-000001", status="delivered", webhook_url=f"http://127.0.0.1:{port}/"
    )
    assert sent["answer"]["status"] is None
    assert "error" in sent["answer"]


# ---- reset and persistence ----------------------------------------------------------------


def test_reset_clears_orders_but_keeps_tokens(sim, http):
    headers = auth(token(http))
    make_order(http, headers)
    sim.set_faults(latency_ms=5)
    state = sim.reset()
    assert state["orders"] == []
    assert state["faults"]["latency_ms"] == 0
    assert http.get("/v1/health", headers=headers).status_code == 200


def connect(sim: PMRSimulator) -> PMRClient:
    return PMRClient(sim.base_url, "demo-client", "demo-secret", "demo-api-key")


def test_state_file_survives_a_restart(tmp_path):
    state_file = tmp_path / "pmr-state.json"
    with PMRSimulator(state_file=state_file) as first, connect(first) as client:
        client.put_order("ORD-2026-000001", {"event_id": WEDDING}, "order-1")
        client.put_image(
            "ORD-2026-000001",
            "IMG-1",
            DATA,
            content_type="image/png",
            filename="a.png",
            idempotency_key="image-1",
        )
    saved = json.loads(state_file.read_text())
    assert DATA not in state_file.read_bytes()  # bytes live beside the file, not in it
    assert list(saved["orders"]) == ["ORD-2026-000001"]
    with PMRSimulator(state_file=state_file) as second, connect(second) as client:
        order = client.get_order("ORD-2026-000001")
        assert order["image_count"] == 1
        assert client.download_image("ORD-2026-000001", "IMG-1") == DATA
        replay = client.put_order("ORD-2026-000001", {"event_id": WEDDING}, "order-1")
        assert replay[0] is True  # the remembered 201 survived too
        client.put_order("ORD-2026-000002", {"event_id": WEDDING}, "order-2")
        assert client.get_order("ORD-2026-000002")["pmr_order_id"] == "PMR-000002"


def test_command_line_serves_the_pmr(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "pmr.simulator", "--port", str(port), "--api-key", "cli-key",
         "--token-ttl", "60", "--state-file", str(tmp_path / "state.json")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        client = PMRClient(
            f"http://127.0.0.1:{port}", "demo-client", "demo-secret", "cli-key", attempts=1
        )
        with client:
            while True:
                try:
                    assert client.health()["status"] == "ok"
                    break
                except Exception:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(10)
    assert process.returncode == 0, process.stderr.read().decode() if process.stderr else ""
    assert (tmp_path / "state.json.blobs").is_dir()


# ---- image variants (contract 1.6) --------------------------------------------------------

EDITED = b"\x89PNG\r\n\x1a\n" + b"edited" * 1000
EDITED_SHA = hashlib.sha256(EDITED).hexdigest()


def variant_headers(headers: dict, key: str, variant=None, size=None, dpi=None, sha=DATA_SHA):
    extra = {"X-Image-Variant": variant, "X-Print-Size": size, "X-Image-DPI": dpi}
    return {**image_headers(headers, key, sha), **{k: v for k, v in extra.items() if v}}


def test_each_variant_of_an_image_is_its_own_file_written_once(sim, http):
    """Original, edited and two print sizes of one image_ref: stored apart, each written once
    however often it is sent, counted per variant; the image counts once (its original)."""
    headers = auth(token(http))
    make_order(http, headers)
    url = "/v1/orders/ORD-2026-000001/images/IMG-1"
    sends = [
        (DATA, {"key": "o1"}),  # no header: the original (the 1.5 meaning)
        (DATA, {"key": "o2", "variant": "original"}),  # the same file again: nothing written
        (EDITED, {"key": "e1", "variant": "edited", "dpi": "240", "sha": EDITED_SHA}),
        (EDITED, {"key": "e2", "variant": "edited", "dpi": "240", "sha": EDITED_SHA}),
        (
            EDITED,
            {"key": "p1", "variant": "print", "size": "8x10", "dpi": "300", "sha": EDITED_SHA},
        ),
        (DATA, {"key": "p2", "variant": "print", "size": "4x6", "dpi": "600"}),
        (DATA, {"key": "p2", "variant": "print", "size": "4x6", "dpi": "600"}),  # replayed
    ]
    statuses = []
    for body, spec in sends:
        key = spec.pop("key")
        answer = http.put(url, content=body, headers=variant_headers(headers, key, **spec))
        statuses.append(answer.status_code)
    assert statuses == [201, 200, 201, 200, 201, 201, 201]
    replay = http.put(
        url,
        content=DATA,
        headers=variant_headers(headers, "p2", variant="print", size="4x6", dpi="600"),
    )
    assert replay.headers["Idempotent-Replayed"] == "true"
    # The same key for another variant is another request.
    conflict = http.put(url, content=DATA, headers=variant_headers(headers, "p2", "original"))
    assert (conflict.status_code, error_code(conflict)) == (409, "idempotency_conflict")

    (order,) = sim.state()["orders"]
    assert order["image_count"] == 1
    assert [(i["image_ref"], i["writes"]) for i in order["images"]] == [("IMG-1", 1)]
    files = {(f["variant"], f["print_size"]): f for f in order["files"]}
    assert list(files) == [
        ("original", None),
        ("edited", None),
        ("print", "4x6"),
        ("print", "8x10"),
    ]
    assert {k: f["writes"] for k, f in files.items()} == dict.fromkeys(files, 1)
    assert {k: f["puts"] for k, f in files.items()} == {
        ("original", None): 3,  # o1, o2 and the conflicting p2
        ("edited", None): 2,
        ("print", "4x6"): 3,
        ("print", "8x10"): 1,
    }
    assert {k: f["dpi"] for k, f in files.items()} == {
        ("original", None): None,
        ("edited", None): 240,
        ("print", "4x6"): 600,
        ("print", "8x10"): 300,
    }
    assert order["files"][1]["sha256"] == EDITED_SHA
    assert sim.state()["image_puts"]["ORD-2026-000001/IMG-1/print/4x6"] == 3

    detail = http.get("/v1/orders/ORD-2026-000001", headers=headers).json()
    assert [i["variant"] for i in detail["images"]] == ["original"]
    assert [(f["variant"], f["print_size"]) for f in detail["files"]] == list(files)
    edited_url = detail["files"][1]["url"]
    assert edited_url.endswith(f"{url}?variant=edited")
    assert http.get(edited_url, headers=headers).content == EDITED
    printed = http.get(url, params={"variant": "print", "print_size": "8x10"}, headers=headers)
    assert printed.content == EDITED
    assert http.get(url, headers=headers).content == DATA  # no parameter: the original
    missing = http.get(url, params={"variant": "print", "print_size": "5x7"}, headers=headers)
    assert missing.status_code == 404


def test_an_image_counts_toward_completion_by_its_original(sim, http):
    headers = auth(token(http))
    ref = "ORD-2026-000001"
    http.put(
        f"/v1/orders/{ref}",
        json={"event_id": WEDDING, "expected_image_count": 1},
        headers={**headers, "Idempotency-Key": "expect-1"},
    ).raise_for_status()
    url = f"/v1/orders/{ref}/images/IMG-1"
    edited = variant_headers(headers, "e1", "edited", sha=EDITED_SHA)
    assert http.put(url, content=EDITED, headers=edited).status_code == 201
    done = {**headers, "Idempotency-Key": "done-1"}
    short = http.patch(f"/v1/orders/{ref}", json={"status": "completed"}, headers=done)
    assert (short.status_code, error_code(short)) == (409, "images_missing")
    assert http.put(url, content=DATA, headers=image_headers(headers, "o1")).status_code == 201
    done = {**headers, "Idempotency-Key": "done-2"}
    assert http.patch(f"/v1/orders/{ref}", json={"status": "completed"}, headers=done).is_success


@pytest.mark.parametrize(
    ("variant", "size", "dpi", "header"),
    [
        ("thumbnail", None, None, "X-Image-Variant"),
        ("print", None, None, "X-Print-Size"),
        ("print", "8 x 10", None, "X-Print-Size"),
        ("edited", "8x10", None, "X-Print-Size"),
        ("edited", None, "0", "X-Image-DPI"),
        ("edited", None, "300dpi", "X-Image-DPI"),
    ],
)
def test_variant_headers_are_checked(sim, http, variant, size, dpi, header):
    headers = auth(token(http))
    make_order(http, headers)
    url = "/v1/orders/ORD-2026-000001/images/IMG-1"
    answer = http.put(url, content=DATA, headers=variant_headers(headers, "k", variant, size, dpi))
    assert (answer.status_code, error_code(answer)) == (422, "validation_failed")
    details = answer.json()["error"]["details"]
    assert header in (details.get("header"), details.get("parameter"))
    assert sim.state()["orders"][0]["files"] == []  # nothing stored
