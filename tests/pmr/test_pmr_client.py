"""The PMR client against the PMR simulator (in-process, port 0): every call, every error.

Waits are never real: the client gets a sleep that records what it would have waited and a
``random`` fixed at 0.5, so the backoff values are exact.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest

from pmr.clients import (
    PMRAuthError,
    PMRChecksumMismatch,
    PMRError,
    PMREventClosed,
    PMRIdempotencyConflict,
    PMRNetworkError,
    PMRNotFound,
    PMRProtocolError,
    PMRRateLimited,
    PMRTimeout,
    PMRUnavailable,
    PMRValidationError,
    WebhookVerificationError,
    sign,
    verify,
)
from pmr.clients.client import PMRClient
from pmr.simulator import PMRSimulator

WEDDING = "EVT-2026-WED-0142"
CLOSED = "EVT-2025-WED-0999"
IMAGE = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64  # bytes only; the PMR does not decode them
IMAGE_SHA = hashlib.sha256(IMAGE).hexdigest()


@pytest.fixture(scope="module")
def sim():
    with PMRSimulator() as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _fresh(sim):
    sim.reset()


class Recorder:
    """Stands in for time.sleep: remembers the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Recorder:
    return Recorder()


@pytest.fixture
def make_client(sim, sleeps):
    made: list[PMRClient] = []

    def make(**kwargs) -> PMRClient:
        options = {
            "base_url": sim.base_url,
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "api_key": "demo-api-key",
            "sleep": sleeps,
            "random": lambda: 0.5,
            "timeout": (2.0, 5.0),
        }
        options.update(kwargs)
        client = PMRClient(**options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client) -> PMRClient:
    return make_client()


def calls(sim, route: str) -> int:
    return sim.state()["calls"].get(route, 0)


def order_body(event_id: str = WEDDING, **extra) -> dict:
    return {"event_id": event_id, "customer_name": "Lena Lindqvist", **extra}


def put_image(client: PMRClient, key: str = "img-key-1", content=IMAGE, **kwargs):
    kwargs.setdefault("content_type", "image/jpeg")
    kwargs.setdefault("filename", "Bräutpaar 01.jpg")
    return client.put_image("ORD-2026-000001", "IMG-1", content, idempotency_key=key, **kwargs)


# ---- token --------------------------------------------------------------------------------


def test_token_is_fetched_once_and_reused(sim, client):
    assert client.health() == {"status": "ok", "version": "1.7.0"}
    client.get_event(WEDDING)
    assert calls(sim, "POST /oauth/token") == 1
    assert calls(sim, "GET /v1/health") == 1


def test_token_is_refetched_shortly_before_it_expires(sim, make_client):
    now = [1000.0]
    client = make_client(clock=lambda: now[0])
    client.health()
    now[0] += 3600 - 61  # inside the 60 s margin before expires_in=3600: still good
    client.health()
    assert calls(sim, "POST /oauth/token") == 1
    now[0] += 2
    client.health()
    assert calls(sim, "POST /oauth/token") == 2


def test_token_expired_fetches_a_new_token_once_and_repeats(sim, client):
    client.health()
    sim.set_tokens(expire_all=True)  # the PMR says the cached token expired
    assert client.health()["status"] == "ok"
    assert calls(sim, "POST /oauth/token") == 2
    assert calls(sim, "GET /v1/health") == 3  # ok, 401 token_expired, ok


def test_second_token_expired_is_raised_not_looped(sim, client, sleeps):
    sim.set_tokens(ttl=0)  # every token is expired when used
    with pytest.raises(PMRAuthError) as caught:
        client.health()
    assert caught.value.code == "token_expired"
    assert caught.value.status == 401
    assert caught.value.retryable is False
    assert calls(sim, "POST /oauth/token") == 2
    assert calls(sim, "GET /v1/health") == 2
    assert sleeps.waits == []


def test_invalid_client_credentials(sim, make_client):
    client = make_client(client_secret="wrong")
    with pytest.raises(PMRAuthError) as caught:
        client.health()
    assert (caught.value.status, caught.value.code) == (401, "invalid_client")
    assert calls(sim, "POST /oauth/token") == 1
    assert calls(sim, "GET /v1/health") == 0


def test_invalid_api_key(sim, make_client, sleeps):
    client = make_client(api_key="not-the-key")
    with pytest.raises(PMRAuthError) as caught:
        client.get_event(WEDDING)
    assert (caught.value.status, caught.value.code) == (401, "invalid_api_key")
    assert calls(sim, "GET /v1/events/{event_id}") == 1
    assert sleeps.waits == []


def test_concurrent_calls_share_one_token(sim, make_client):
    client = make_client()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            client.get_event(WEDDING)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert calls(sim, "POST /oauth/token") == 1
    assert calls(sim, "GET /v1/events/{event_id}") == 8


# ---- reads --------------------------------------------------------------------------------


def test_get_event_open_and_closed(client):
    event = client.get_event(WEDDING)
    assert event["name"] == "Lindqvist-Okafor wedding"
    assert (event["status"], event["type"], event["customer_id"]) == (
        "open",
        "wedding",
        "CUST-0142",
    )
    assert client.get_event(CLOSED)["status"] == "closed"


def test_unknown_event_is_not_found_without_retry(sim, client, sleeps):
    with pytest.raises(PMRNotFound) as caught:
        client.get_event("EVT-NOPE")
    assert (caught.value.status, caught.value.code) == (404, "not_found")
    assert caught.value.retryable is False
    assert calls(sim, "GET /v1/events/{event_id}") == 1
    assert sleeps.waits == []


def test_customers_by_id_and_by_email(client):
    assert client.get_customer("CUST-0307")["name"] == "Northfield PTA"
    found = client.find_customers("PTA@Northfield.example")
    assert [c["customer_id"] for c in found] == ["CUST-0307"]
    assert client.find_customers("nobody@example.com") == []
    with pytest.raises(PMRNotFound):
        client.get_customer("CUST-NOPE")


# ---- orders -------------------------------------------------------------------------------


def test_put_order_creates_then_updates(client):
    created, order = client.put_order("ORD-2026-000001", order_body(), "order-1")
    assert created is True
    assert (order["status"], order["image_count"], order["event_id"]) == ("received", 0, WEDDING)
    again, updated = client.put_order("ORD-2026-000001", order_body(notes="rush"), "order-2")
    assert again is False
    assert updated["pmr_order_id"] == order["pmr_order_id"]
    assert updated["notes"] == "rush"
    assert updated["updated_at"] > order["updated_at"]


def test_put_order_replays_the_first_answer_for_the_same_key(sim, client):
    first = client.put_order("ORD-2026-000001", order_body(), "order-1")
    second = client.put_order("ORD-2026-000001", order_body(), "order-1")
    assert second == first  # same status (201) and the same body, updated_at included
    assert len(sim.state()["orders"]) == 1


def test_same_key_with_another_body_is_a_conflict(sim, client, sleeps):
    client.put_order("ORD-2026-000001", order_body(), "order-1")
    with pytest.raises(PMRIdempotencyConflict) as caught:
        client.put_order("ORD-2026-000001", order_body(notes="changed"), "order-1")
    assert (caught.value.status, caught.value.code) == (409, "idempotency_conflict")
    assert caught.value.retryable is False
    assert sim.state()["orders"][0]["notes"] is None
    assert sleeps.waits == []


def test_closed_event_refuses_the_order_without_retry(sim, client, sleeps):
    with pytest.raises(PMREventClosed) as caught:
        client.put_order("ORD-2026-000002", order_body(CLOSED), "order-closed")
    assert (caught.value.status, caught.value.code) == (409, "event_closed")
    assert caught.value.details == {"event_id": CLOSED}
    assert calls(sim, "PUT /v1/orders/{order_ref}") == 1
    assert sleeps.waits == []
    assert sim.state()["orders"] == []


def test_unknown_event_and_bad_body_are_validation_errors(sim, client):
    with pytest.raises(PMRValidationError) as unknown:
        client.put_order("ORD-2026-000003", order_body("EVT-NOPE"), "order-x")
    assert (unknown.value.status, unknown.value.code) == (422, "validation_failed")
    assert unknown.value.details["field"] == "event_id"
    with pytest.raises(PMRValidationError) as bad:
        client.put_order("ORD-2026-000003", {"event_id": WEDDING, "colour": "red"}, "order-y")
    assert bad.value.details["fields"] == {"colour": "unknown field"}
    assert calls(sim, "PUT /v1/orders/{order_ref}") == 2


def test_patch_status_and_get_order(client):
    client.put_order("ORD-2026-000001", order_body(), "order-1")
    order = client.patch_order_status("ORD-2026-000001", "processing", "AI running", "status-1")
    assert (order["status"], order["status_reason"]) == ("processing", "AI running")
    seen = client.get_order("ORD-2026-000001")
    assert (seen["status"], seen["status_reason"], seen["images"]) == (
        "processing",
        "AI running",
        [],
    )
    with pytest.raises(PMRNotFound):
        client.patch_order_status("ORD-2026-999999", "completed", None, "status-2")
    with pytest.raises(PMRNotFound):
        client.get_order("ORD-2026-999999")


def test_pmr_side_status_shows_in_get_order(sim, client):
    client.put_order("ORD-2026-000001", order_body(), "order-1")
    sim.send_webhook(order_ref="ORD-2026-000001", status="on_hold", status_reason="payment")
    order = client.get_order("ORD-2026-000001")
    assert (order["status"], order["status_reason"]) == ("on_hold", "payment")


def test_orders_updated_since_follows_the_cursor(sim, client):
    refs = [f"ORD-2026-{n:06d}" for n in range(1, 6)]
    stamps = {}
    for ref in refs:
        _, order = client.put_order(ref, order_body(), f"key-{ref}")
        stamps[ref] = order["updated_at"]
    since = datetime.now(UTC) - timedelta(hours=1)
    seen = [order["order_ref"] for order in client.iter_orders_updated_since(since, page_size=2)]
    assert seen == refs
    assert calls(sim, "GET /v1/orders") == 3  # pages of 2, 2 and 1
    third = datetime.fromisoformat(stamps[refs[2]])
    later = [o["order_ref"] for o in client.iter_orders_updated_since(third, page_size=2)]
    assert later == refs[2:]  # inclusive


def test_orders_updated_since_needs_an_aware_datetime(client):
    with pytest.raises(ValueError, match="timezone"):
        next(client.iter_orders_updated_since(datetime(2026, 1, 1)))


# ---- images -------------------------------------------------------------------------------


def test_put_image_from_bytes_with_metadata(client):
    client.put_order("ORD-2026-000001", order_body(), "order-1")
    created, stored = put_image(client, sha256=IMAGE_SHA, metadata={"caption": "First dance"})
    assert created is True
    assert stored["sha256"] == IMAGE_SHA
    assert stored["size"] == len(IMAGE)
    assert stored["filename"] == "Bräutpaar 01.jpg"
    assert stored["metadata"] == {"caption": "First dance"}
    assert client.download_image("ORD-2026-000001", "IMG-1") == IMAGE
    assert client.get_order("ORD-2026-000001")["image_count"] == 1


def test_put_image_streams_a_path_and_hashes_it(client, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one 1 MiB chunk
    path = tmp_path / "large.jpg"
    path.write_bytes(data)
    client.put_order("ORD-2026-000001", order_body(), "order-1")
    created, stored = put_image(client, content=path)
    assert created is True
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()
    assert client.download_image("ORD-2026-000001", "IMG-1") == data


def test_put_image_from_an_open_file_sends_from_its_position(client):
    handle = io.BytesIO(b"HEADER" + IMAGE)
    handle.seek(6)
    client.put_order("ORD-2026-000001", order_body(), "order-1")
    _, stored = put_image(client, content=handle)
    assert stored["sha256"] == IMAGE_SHA


def test_same_image_twice_is_stored_once(sim, client):
    client.put_order("ORD-2026-000001", order_body(), "order-1")
    first = put_image(client, key="img-key-1")
    replay = put_image(client, key="img-key-1")  # a retry of the same write
    assert replay == first
    again = put_image(client, key="img-key-2")  # a second write of the same bytes
    assert again[0] is False
    image = sim.state()["orders"][0]["images"][0]
    assert (image["writes"], image["puts"]) == (1, 3)


def test_other_bytes_replace_the_image(sim, client):
    client.put_order("ORD-2026-000001", order_body(), "order-1")
    put_image(client, key="img-key-1")
    created, stored = put_image(client, key="img-key-2", content=IMAGE + b"retouched")
    assert created is False
    assert stored["sha256"] == hashlib.sha256(IMAGE + b"retouched").hexdigest()
    image = sim.state()["orders"][0]["images"][0]
    assert (image["writes"], image["puts"]) == (2, 2)


def test_checksum_mismatch_stores_nothing_and_is_not_retried(sim, client, sleeps):
    client.put_order("ORD-2026-000001", order_body(), "order-1")
    with pytest.raises(PMRChecksumMismatch) as caught:
        put_image(client, sha256="0" * 64)
    assert isinstance(caught.value, PMRValidationError)
    assert (caught.value.status, caught.value.code) == (422, "checksum_mismatch")
    assert caught.value.details["actual"] == IMAGE_SHA
    assert caught.value.retryable is False
    assert sim.state()["orders"][0]["images"] == []
    assert sim.state()["image_puts"] == {"ORD-2026-000001/IMG-1": 1}
    assert sleeps.waits == []


def test_image_of_unknown_order_or_closed_event(sim, client):
    with pytest.raises(PMRNotFound):
        put_image(client)
    sim.add_events([{"event_id": "EVT-CLOSING", "name": "Closing soon", "status": "open"}])
    client.put_order("ORD-2026-000001", order_body("EVT-CLOSING"), "order-1")
    sim.add_events([{"event_id": "EVT-CLOSING", "name": "Closing soon", "status": "closed"}])
    with pytest.raises(PMREventClosed):
        put_image(client)


def test_oversized_metadata_is_refused_before_sending(sim, client):
    with pytest.raises(PMRValidationError) as caught:
        put_image(client, metadata={"blob": "x" * 40000})
    assert caught.value.details["header"] == "X-Image-Metadata"
    assert calls(sim, "PUT /v1/orders/{order_ref}/images/{image_ref}") == 0


# ---- retries ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 500])
def test_server_errors_are_retried_with_backoff_then_succeed(sim, client, sleeps, status):
    client.health()
    sim.set_faults(fail_next=2, error_status=status)
    assert client.health()["status"] == "ok"
    assert calls(sim, "GET /v1/health") == 4
    # equal jitter with random() = 0.5: base 0.5 s, then 1 s → 0.375 s, 0.75 s
    assert sleeps.waits == [0.375, 0.75]


def test_unavailable_after_three_attempts(sim, client, sleeps):
    client.health()
    sim.set_faults(down=True)
    with pytest.raises(PMRUnavailable) as caught:
        client.get_event(WEDDING)
    assert (caught.value.status, caught.value.code) == (503, "unavailable")
    assert caught.value.retryable is True
    assert calls(sim, "GET /v1/events/{event_id}") == 3
    assert len(sleeps.waits) == 2


def test_rate_limit_waits_retry_after(sim, client, sleeps):
    client.health()
    sim.set_faults(fail_next=2, error_status=429, retry_after=2)
    assert client.health()["status"] == "ok"
    assert sleeps.waits == [2.0, 2.0]
    assert calls(sim, "GET /v1/health") == 4


def test_long_retry_after_goes_back_to_the_caller(sim, client, sleeps):
    client.health()
    sim.set_faults(fail_next=1, error_status=429, retry_after=120)
    with pytest.raises(PMRRateLimited) as caught:
        client.health()
    assert caught.value.retry_after == 120.0
    assert caught.value.retryable is True
    assert sleeps.waits == []
    assert calls(sim, "GET /v1/health") == 2


def test_network_error_after_three_attempts(make_client, sleeps):
    with PMRSimulator() as gone:
        url = gone.base_url
    client = make_client(base_url=url)  # nothing listens there any more
    with pytest.raises(PMRNetworkError) as caught:
        client.health()
    assert not isinstance(caught.value, PMRTimeout)
    assert caught.value.retryable is True
    assert caught.value.status is None
    assert len(sleeps.waits) == 2


def test_latency_beyond_the_read_timeout_is_a_timeout(sim, make_client, sleeps):
    client = make_client(timeout=(2.0, 0.1))
    client.health()
    sim.set_faults(latency_ms=400)
    with pytest.raises(PMRTimeout) as caught:
        client.health()
    assert isinstance(caught.value, PMRNetworkError)
    assert caught.value.retryable is True
    assert calls(sim, "GET /v1/health") == 4
    assert len(sleeps.waits) == 2


def test_retryable_flags_of_the_error_classes():
    retryable = {PMRRateLimited, PMRUnavailable, PMRNetworkError, PMRTimeout}
    final = {
        PMRError,
        PMRAuthError,
        PMRNotFound,
        PMRValidationError,
        PMRChecksumMismatch,
        PMREventClosed,
        PMRIdempotencyConflict,
        PMRProtocolError,
    }
    assert all(cls("x").retryable for cls in retryable)
    assert not any(cls("x").retryable for cls in final)
    assert all(issubclass(cls, PMRError) for cls in retryable | final)
    error = PMRRateLimited("slow down", status=429, code="rate_limited", retry_after=3)
    assert error.as_dict()["retry_after"] == 3
    assert "429 rate_limited" in str(error)


def test_client_repr_hides_secrets(client):
    assert "demo-secret" not in repr(client)
    assert "demo-api-key" not in repr(client)


# ---- webhook signatures -------------------------------------------------------------------

SECRET = "demo-webhook-secret"
BODY = b'{"order_ref":"ORD-2026-000001","status":"delivered"}'
NOW = 1_780_000_000


DELIVERY = "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"


def test_sign_is_hmac_sha256_of_timestamp_dot_delivery_dot_body():
    text = f"{NOW}.{DELIVERY}.".encode() + BODY
    expected = hmac.new(SECRET.encode(), text, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, DELIVERY, BODY) == f"sha256={expected}"
    assert sign(SECRET, str(NOW), DELIVERY, BODY) == sign(SECRET.encode(), NOW, DELIVERY, BODY)


def test_sign_refuses_a_delivery_id_with_a_dot():
    with pytest.raises(ValueError, match="not a delivery id"):
        sign(SECRET, NOW, "a.b", BODY)


def test_verify_accepts_a_good_signature_within_tolerance():
    signature = sign(SECRET, NOW, DELIVERY, BODY)
    assert verify(SECRET, str(NOW), signature, BODY, DELIVERY, now=NOW) is True
    assert verify(SECRET, str(NOW), signature, BODY, DELIVERY, now=NOW + 299) is True
    assert verify(SECRET, str(NOW), signature, BODY, DELIVERY, now=NOW - 299) is True


def _sig(secret=SECRET, at=NOW, delivery=DELIVERY, body=BODY) -> str:
    return sign(secret, at, delivery, body)


@pytest.mark.parametrize(
    ("secret", "timestamp", "signature", "body", "delivery", "reason"),
    [
        (SECRET, str(NOW), _sig("other-secret"), BODY, DELIVERY, "bad_signature"),
        (SECRET, str(NOW), _sig(), BODY + b" ", DELIVERY, "bad_signature"),
        (SECRET, str(NOW + 1), _sig(), BODY, DELIVERY, "bad_signature"),
        (SECRET, str(NOW), _sig(), BODY, "another-delivery", "bad_signature"),
        (SECRET, str(NOW - 301), _sig(at=NOW - 301), BODY, DELIVERY, "stale"),
        (SECRET, str(NOW + 301), _sig(at=NOW + 301), BODY, DELIVERY, "future"),
        (SECRET, None, _sig(), BODY, DELIVERY, "missing"),
        (SECRET, str(NOW), "", BODY, DELIVERY, "missing"),
        (SECRET, str(NOW), _sig(), BODY, None, "missing"),
        (SECRET, "soon", _sig(), BODY, DELIVERY, "malformed"),
        (SECRET, str(NOW), "md5=abc", BODY, DELIVERY, "malformed"),
        (SECRET, str(NOW), _sig(), BODY, "a.b", "malformed"),
        ("", str(NOW), _sig(secret="x"), BODY, DELIVERY, "not_configured"),
    ],
)
def test_verify_refuses(secret, timestamp, signature, body, delivery, reason):
    with pytest.raises(WebhookVerificationError) as caught:
        verify(secret, timestamp, signature, body, delivery, now=NOW)
    assert caught.value.reason == reason


# ---- image variants (contract 1.6) --------------------------------------------------------


def test_variants_of_one_image_are_sent_and_read_back_apart(sim, client):
    client.put_order("ORD-2026-000001", order_body(), "order-1")
    edited, printed = IMAGE + b"edited", IMAGE + b"print"
    created, original = put_image(client, "k-o")  # no variant: the 1.5 call, unchanged
    assert created
    assert (original["variant"], original["dpi"]) == ("original", None)
    created, stored = put_image(client, "k-e", content=edited, variant="edited", dpi=250)
    assert created
    assert (stored["variant"], stored["print_size"], stored["dpi"]) == (
        "edited",
        None,
        250,
    )
    created, stored = put_image(
        client, "k-p", content=printed, variant="print", print_size="5x7", dpi=312
    )
    assert created
    assert (stored["variant"], stored["print_size"], stored["dpi"]) == (
        "print",
        "5x7",
        312,
    )
    created, _ = put_image(client, "k-e2", content=edited, variant="edited", dpi=250)
    assert not created  # the same edited bytes again: nothing written
    assert client.download_image("ORD-2026-000001", "IMG-1") == IMAGE
    assert client.download_image("ORD-2026-000001", "IMG-1", variant="edited") == edited
    assert (
        client.download_image("ORD-2026-000001", "IMG-1", variant="print", print_size="5x7")
        == printed
    )
    order = client.get_order("ORD-2026-000001")
    assert order["image_count"] == 1
    assert [(f["variant"], f["sha256"]) for f in order["files"]] == [
        ("original", IMAGE_SHA),
        ("edited", hashlib.sha256(edited).hexdigest()),
        ("print", hashlib.sha256(printed).hexdigest()),
    ]
    writes = [f["writes"] for f in sim.state()["orders"][0]["files"]]
    assert writes == [1, 1, 1]


@pytest.mark.parametrize(
    "kwargs",
    [{"variant": "thumbnail"}, {"variant": "print"}, {"variant": "edited", "print_size": "4x6"}],
)
def test_a_variant_the_contract_does_not_allow_is_refused_before_sending(sim, client, kwargs):
    with pytest.raises(ValueError, match=r"variant|print_size"):
        put_image(client, **kwargs)
    assert calls(sim, "PUT /v1/orders/{order_ref}/images/{image_ref}") == 0
