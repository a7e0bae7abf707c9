"""One error shape everywhere, and no 500 for anything a client can send."""

from __future__ import annotations

import pytest

from orders.models import Order

from .conftest import API, assert_error

# --- the shape, status by status -----------------------------------------------------------


@pytest.fixture
def order(users, make_order):
    return make_order(users["User"])


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "status", "code"),
    [
        ("anonymous", "get", "/orders", None, 401, "not_authenticated"),
        ("anonymous", "post", "/orders/{ref}/images", None, 401, "not_authenticated"),
        ("Viewer", "post", "/orders", {"customer_name": "x"}, 403, "permission_denied"),
        ("norole", "get", "/orders/{ref}", None, 403, "permission_denied"),
        ("Admin", "get", "/orders/ORD-2000-000009", None, 404, "not_found"),
        ("Admin", "get", "/no/such/endpoint", None, 404, "not_found"),
        ("anonymous", "get", "/", None, 404, "not_found"),
        ("Admin", "put", "/orders", {}, 405, "method_not_allowed"),
        ("Admin", "post", "/orders/{ref}", {}, 405, "method_not_allowed"),
        ("Admin", "post", "/orders", {"event": 1}, 400, "invalid"),
        ("Admin", "patch", "/orders/{ref}", {"status": "completed"}, 409, "transition_not_allowed"),
    ],
)
def test_every_error_has_the_shape(client_as, order, who, method, path, body, status, code):
    client = client_as(who)
    path = API + path.replace("{ref}", order.order_ref)
    response = getattr(client, method)(path, body, format="json")
    assert_error(response, status, code)


def test_401_names_how_to_authenticate(client_as):
    response = client_as("anonymous").get(f"{API}/orders")
    assert response["WWW-Authenticate"].startswith("Api-Key")


def test_validation_details_list_every_field(client_as):
    response = client_as("Admin").post(f"{API}/orders", {}, format="json")
    error = assert_error(response, 400, "invalid")
    assert set(error["details"]) == {"event", "customer_name"}
    assert all(isinstance(v, list) for v in error["details"].values())


def test_unacceptable_accept_header_is_406(client_as):
    response = client_as("Admin").get(f"{API}/orders", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    # DRF cannot render in the type the client refused; it falls back to JSON.
    assert response.json()["error"]["code"] == "not_acceptable"


# --- fuzz -------------------------------------------------------------------------------------

NUL = "\\u0000"
SURROGATE = "\\ud800"

#: Raw request bodies for POST /orders and PATCH /orders/{ref} ("{event}" is replaced).
BODIES = [
    "{bad json",
    "",
    "null",
    "[]",
    '"a string"',
    "123",
    "[" * 50_000 + "]" * 50_000,
    '{"a":' * 5000 + "1" + "}" * 5000,
    '{"event": "{event}", "customer_name": NaN}',
    '{"event": "{event}", "customer_name": Infinity}',
    '{"event": 123, "customer_name": "x"}',
    '{"event": null, "customer_name": "x"}',
    '{"event": ["{event}"], "customer_name": "x"}',
    '{"event": {"id": 1}, "customer_name": "x"}',
    '{"event": "' + "E" * 1_000_000 + '", "customer_name": "x"}',
    '{"event": "EVT' + NUL + '", "customer_name": "x"}',
    '{"event": "../../etc/passwd", "customer_name": "x"}',
    '{"event": "{event}", "customer_name": 123}',
    '{"event": "{event}", "customer_name": ["x"]}',
    '{"event": "{event}", "customer_name": {"x": 1}}',
    '{"event": "{event}", "customer_name": true}',
    '{"event": "{event}", "customer_name": null}',
    '{"event": "{event}", "customer_name": "' + "x" * 1_000_000 + '"}',
    '{"event": "{event}", "customer_name": "a' + NUL + 'b"}',
    '{"event": "{event}", "customer_name": "' + SURROGATE + '"}',
    '{"event": "{event}", "customer_name": "x", "customer_email": "' + "a@b" * 1000 + '"}',
    '{"event": "{event}", "customer_name": "x", "customer_email": 5}',
    '{"event": "{event}", "customer_name": "x", "notes": "' + "n" * 200_000 + '"}',
    '{"event": "{event}", "customer_name": "x", "notes": "' + NUL + '"}',
    '{"event": "{event}", "customer_name": "x", "notes": {"a": 1}}',
    '{"event": "{event}", "customer_name": "x", "assigned_to": "abc"}',
    '{"event": "{event}", "customer_name": "x", "assigned_to": 1.5}',
    '{"event": "{event}", "customer_name": "x", "assigned_to": true}',
    '{"event": "{event}", "customer_name": "x", "assigned_to": -1}',
    '{"event": "{event}", "customer_name": "x", "assigned_to": 1e300}',
    '{"event": "{event}", "customer_name": "x", "assigned_to": ' + "9" * 40 + "}",
    '{"event": "{event}", "customer_name": "x", "assigned_to": "' + NUL + '"}',
    '{"event": "{event}", "customer_name": "x", "assigned_to": [1]}',
    '{"event": "{event}", "customer_name": "x", "assigned_to": "' + "9" * 5000 + '"}',
    '{"event": "{event}", "customer_name": "x", "assigned_to": "\u00b2"}',
    '{"event": "{event}", "customer_name": "x", "assigned_to": ' + "9" * 5000 + "}",
    '{"event": "{event}", "customer_name": "x", "preset": 5}',
    '{"event": "{event}", "customer_name": "x", "preset": ""}',
    '{"event": "{event}", "customer_name": "x", "preset": "' + "p" * 5000 + '"}',
    '{"event": "{event}", "customer_name": "x", "preset": "a' + NUL + '"}',
    '{"event": "{event}", "customer_name": "x", "order_date": "yesterday"}',
    '{"event": "{event}", "customer_name": "x", "order_date": "0001-01-01T00:00:00+14:00"}',
    '{"event": "{event}", "customer_name": "x", "order_date": "9999-12-31T23:59:59-14:00"}',
    '{"event": "{event}", "customer_name": "x", "order_date": 12345}',
    '{"event": "{event}", "customer_name": "x", "metadata": []}',
    '{"event": "{event}", "customer_name": "x", "metadata": "text"}',
    '{"event": "{event}", "customer_name": "x", "metadata": {"a": "' + NUL + '"}}',
    '{"event": "{event}", "customer_name": "x", "metadata": {"' + NUL + '": 1}}',
    '{"event": "{event}", "customer_name": "x", "metadata": {"a": "' + SURROGATE + '"}}',
    '{"event": "{event}", "customer_name": "x", "metadata": ' + '{"a":' * 40 + "1" + "}" * 40 + "}",
    '{"event": "{event}", "customer_name": "x", "metadata": {"big": "' + "m" * 50_000 + '"}}',
    '{"event": "{event}", "customer_name": "x", "status": 7}',
    '{"event": "{event}", "customer_name": "x", "status": "' + NUL + '"}',
]


def _failures(client, requests) -> list[str]:
    """Send each request; list those answered 500 (or raising), or off the error shape."""
    failed = []
    for label, send in requests:
        try:
            response = send(client)
            assert response.status_code < 500, response.status_code
            if response.status_code >= 400:
                assert_error(response, response.status_code)
        except Exception as exc:  # the report lists every failing input
            failed.append(f"{label[:80]!r}: {type(exc).__name__}: {str(exc)[:200]}")
    return failed


def test_fuzz_create(client_as, event):
    def request(body):
        raw = body.replace("{event}", event.event_id).encode("utf-8")
        return lambda c: c.post(f"{API}/orders", raw, content_type="application/json")

    assert _failures(client_as("Admin"), [(b, request(b)) for b in BODIES]) == []


def test_fuzz_patch(client_as, order):
    def request(body):
        raw = body.replace("{event}", order.event.event_id).encode("utf-8")
        return lambda c: c.patch(
            f"{API}/orders/{order.order_ref}", raw, content_type="application/json"
        )

    assert _failures(client_as("Admin"), [(b, request(b)) for b in BODIES]) == []
    order.refresh_from_db()
    assert order.status == Order.Status.DRAFT


QUERIES = [
    "status=%00",
    "status=" + "s" * 10_000,
    "status=,,,",
    "event=%00",
    "event=" + "e" * 10_000,
    "event=%ED%A0%80",
    "search=%00",
    "search=%25%5F%5C",
    "search=" + "q" * 10_000,
    "cursor=%00",
    "cursor=" + "c" * 10_000,
    "cursor=cD0yMDI1LTAxLTAx",
    "cursor=cD1ub3RhZGF0ZQ==",
    "cursor=bz0tNSZwPXg=",
    "page_size=-1",
    "page_size=abc",
    "page_size=" + "9" * 40,
    "page_size=0",
    "status=draft&status=pending",
]


@pytest.mark.filterwarnings("ignore:DateTimeField Order.created_at received a naive datetime")
def test_fuzz_list_queries(client_as, order):
    requests = [(q, lambda c, q=q: c.get(f"{API}/orders?{q}")) for q in QUERIES]
    requests += [
        (q, lambda c, q=q: c.get(f"{API}/orders/{order.order_ref}/images?{q}")) for q in QUERIES
    ]
    assert _failures(client_as("Manager"), requests) == []


PATHS = [
    "/orders/%00",
    "/orders/" + "A" * 5000,
    "/orders/ORD-0000-000000",
    "/orders/%2e%2e%2fadmin",
    "/orders/ÖRD-2025-1",
    "/orders/ORD%20X",
    "/orders/-/images",
    "/orders/{ref}/images/1",
    "/orders/{ref}/nothing",
    "/orders/{ref}/images/",
    "/orders//",
]


def test_fuzz_paths(client_as, order):
    requests = []
    for raw_path in PATHS:
        path = API + raw_path.replace("{ref}", order.order_ref)
        requests.append((f"GET {path}", lambda c, p=path: c.get(p)))
        for method in ("post", "put", "patch", "delete"):
            requests.append(
                (
                    f"{method} {path}",
                    lambda c, p=path, m=method: getattr(c, m)(
                        p, b"{}", content_type="application/json"
                    ),
                )
            )
    assert _failures(client_as("Admin"), requests) == []


UPLOADS = [
    ("multipart/form-data", b"no boundary"),
    ("multipart/form-data; boundary=X", b"--X\r\nContent-Disposition: form-data\r\n\r\n"),
    ("multipart/form-data; boundary=X", b"--X--\r\n"),
    ("multipart/form-data; boundary=" + "B" * 2000, b"--x"),
    ("application/x-www-form-urlencoded", b"file=abc"),
    ("text/plain", b"hello"),
    ("application/octet-stream", b"\x89PNG..."),
    (
        "multipart/form-data; boundary=X",
        b'--X\r\nContent-Disposition: form-data; name="file"; filename="\xff\xfe.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\nabc\r\n--X--\r\n",
    ),
    (
        "multipart/form-data; boundary=X",
        b'--X\r\nContent-Disposition: form-data; name="file"; filename=""\r\n'
        b"Content-Type: image/jpeg\r\n\r\nabc\r\n--X--\r\n",
    ),
    (
        "multipart/form-data; boundary=X",
        (
            "".join(
                f'--X\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nv\r\n'
                for i in range(1100)
            )
            + "--X--\r\n"
        ).encode(),
    ),
    (
        "multipart/form-data; boundary=X",
        (
            "".join(
                f'--X\r\nContent-Disposition: form-data; name="file"; filename="{i}.jpg"\r\n'
                f"Content-Type: image/jpeg\r\n\r\n{i}\r\n"
                for i in range(120)
            )
            + "--X--\r\n"
        ).encode(),
    ),
]


def test_fuzz_uploads(client_as, order):
    url = f"{API}/orders/{order.order_ref}/images"
    requests = [
        (f"{ct} {body[:40]!r}", lambda c, ct=ct, body=body: c.post(url, body, content_type=ct))
        for ct, body in UPLOADS
    ]
    assert _failures(client_as("User"), requests) == []
    assert order.images.count() <= 2  # only the two single-file bodies can store an image


def test_invalid_utf8_json_is_a_parse_error(client_as):
    response = client_as("Admin").post(
        f"{API}/orders", b'{"event": "' + b"\xff" * 10 + b'"}', content_type="application/json"
    )
    assert_error(response, 400, "parse_error")
