"""The PMR v1 calls of the simulator, as pmr/contract/pmr-v1.yaml describes them.

A mixin of ``PMRCore``: handlers read and change ``self.repo`` (the JSON-able repository),
``self.blobs`` (image bytes on disk) and ``self.tokens``. Authentication and fault injection
run before these handlers, in the server's middleware.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode

from aiohttp import web

from pmr.simulator.blobs import BlobStore
from pmr.simulator.errors import ApiError, not_found, validation_failed
from pmr.simulator.state import IssuedToken, Repository, Tokens, iso, parse_iso

VERSION = "1.7.0"
SCOPES = frozenset({"pmr.read", "pmr.write"})
ORDER_STATUSES = (
    "received",
    "processing",
    "completed",
    "cancelled",
    "delivered",
    "rejected",
    "on_hold",
)
PUSHED_STATUSES = ("processing", "completed", "cancelled")
EVENT_ID = re.compile(r"[A-Za-z0-9._-]{1,50}")
CUSTOMER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
ORDER_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
IMAGE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SHA256 = re.compile(r"[0-9a-f]{64}")
PRINT_SIZE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
VARIANTS = ("original", "edited", "print")
MAX_DPI = 100000
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
MAX_METADATA_HEADER = 49152
CHUNK = 1024 * 1024
#: Where the middleware leaves the authenticated token for the handlers.
TOKEN_KEY = web.RequestKey("token", IssuedToken)
# OrderWrite fields: name -> (types allowed, max length for strings)
ORDER_FIELDS: dict[str, tuple[tuple[type, ...], int | None]] = {
    "event_id": ((str,), 50),
    "customer_id": ((str, type(None)), 64),
    "customer_name": ((str, type(None)), 200),
    "customer_email": ((str, type(None)), 254),
    "order_date": ((str, type(None)), None),
    "notes": ((str, type(None)), 10000),
    "expected_image_count": ((int, type(None)), None),
    "metadata": ((dict,), None),
}


class PMRApi:
    """Route handlers of the PMR calls (``/oauth/token`` and ``/v1/*``)."""

    repo: Repository
    blobs: BlobStore
    tokens: Tokens
    client_id: str
    client_secret: str
    api_key: str
    max_image_bytes: int

    def add_api_routes(self, app: web.Application) -> None:
        app.router.add_post("/oauth/token", self.token_handler)
        app.router.add_get("/v1/health", self.health_handler)
        app.router.add_get("/v1/events/{event_id}", self.event_handler)
        app.router.add_get("/v1/customers/{customer_id}", self.customer_handler)
        app.router.add_get("/v1/customers", self.customers_handler)
        app.router.add_get("/v1/orders", self.orders_handler)
        app.router.add_put("/v1/orders/{order_ref}", self.put_order_handler)
        app.router.add_patch("/v1/orders/{order_ref}", self.patch_order_handler)
        app.router.add_get("/v1/orders/{order_ref}", self.get_order_handler)
        app.router.add_put("/v1/orders/{order_ref}/images/{image_ref}", self.put_image_handler)
        app.router.add_get("/v1/orders/{order_ref}/images/{image_ref}", self.get_image_handler)

    # ---- auth ----------------------------------------------------------------------------

    async def token_handler(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant_type = form.get("grant_type")
        if not grant_type or not form.get("client_id") or not form.get("client_secret"):
            raise ApiError(
                400,
                "invalid_request",
                "grant_type, client_id and client_secret are required.",
                {"fields": sorted({"grant_type", "client_id", "client_secret"} - set(form))},
            )
        if grant_type != "client_credentials":
            raise ApiError(
                400,
                "unsupported_grant_type",
                "Only client_credentials is supported.",
                {"grant_type": str(grant_type)},
            )
        if not (
            _same(str(form["client_id"]), self.client_id)
            and _same(str(form["client_secret"]), self.client_secret)
        ):
            raise ApiError(401, "invalid_client", "Unknown client or wrong secret.")
        requested = frozenset(str(form.get("scope") or " ".join(sorted(SCOPES))).split())
        if not requested or not requested <= SCOPES:
            raise ApiError(
                400, "invalid_scope", "Unknown scope.", {"scope": sorted(requested - SCOPES)}
            )
        value, ttl = self.tokens.issue(self.client_id, requested)
        body = {
            "access_token": value,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(sorted(requested)),
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    def authenticate(self, request: web.Request) -> IssuedToken:
        """Bearer token and API key of a /v1 call; scope by method (reads vs. writes)."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="pmr"'}
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "invalid_token", "A bearer token is required.", headers=challenge)
        token = self.tokens.lookup(value.strip())
        if token is None:
            raise ApiError(401, "invalid_token", "Unknown bearer token.", headers=challenge)
        if token.expires_at <= time.monotonic():
            raise ApiError(401, "token_expired", "The bearer token has expired.", headers=challenge)
        if not _same(request.headers.get("X-API-Key", ""), self.api_key):
            raise ApiError(401, "invalid_api_key", "Missing or wrong X-API-Key.")
        needed = "pmr.read" if request.method in ("GET", "HEAD") else "pmr.write"
        if needed not in token.scopes:
            raise ApiError(403, "insufficient_scope", f"This call needs {needed}.")
        return token

    # ---- reads ---------------------------------------------------------------------------

    async def health_handler(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": VERSION})

    async def event_handler(self, request: web.Request) -> web.Response:
        event_id = request.match_info["event_id"]
        event = self.repo.events.get(event_id)
        if event is None:
            raise not_found("event", event_id)
        return web.json_response(event)

    async def customer_handler(self, request: web.Request) -> web.Response:
        customer_id = request.match_info["customer_id"]
        customer = self.repo.customers.get(customer_id)
        if customer is None:
            raise not_found("customer", customer_id)
        return web.json_response(customer)

    async def customers_handler(self, request: web.Request) -> web.Response:
        email = request.query.get("email", "").strip()
        if len(email) < 3:
            raise validation_failed("The email parameter is required.", parameter="email")
        wanted = email.casefold()
        results = [
            customer
            for customer in sorted(self.repo.customers.values(), key=lambda c: c["customer_id"])
            if (customer.get("email") or "").casefold() == wanted
        ]
        return web.json_response({"results": results})

    async def orders_handler(self, request: web.Request) -> web.Response:
        since = _query_time(request, "updated_since")
        limit_text = request.query.get("limit", "100")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 500:
            raise validation_failed("limit must be 1 to 500.", parameter="limit")
        limit = int(limit_text)
        after = _decode_cursor(request.query["cursor"]) if "cursor" in request.query else None
        keyed = sorted(
            ((parse_iso(order["updated_at"]), ref), order)
            for ref, order in self.repo.orders.items()
        )
        matching = [
            order for key, order in keyed if key[0] >= since and (after is None or key > after)
        ]
        page = matching[:limit]
        next_cursor = _encode_cursor(page[-1]) if len(matching) > limit else None
        results = [self.repo.order_view(order) for order in page]
        return web.json_response({"results": results, "next": next_cursor})

    async def get_order_handler(self, request: web.Request) -> web.Response:
        order = self._order(request)
        view = self.repo.order_view(order)
        view["images"] = [
            self.repo.image_view(record, _image_url(request, order["order_ref"], record))
            for _, record in sorted(order["images"].items())
        ]
        view["files"] = [
            self.repo.image_view(record, _image_url(request, order["order_ref"], record))
            for record in self.repo.files(order)
        ]
        return web.json_response(view)

    async def get_image_handler(self, request: web.Request) -> web.StreamResponse:
        order = self._order(request)
        image_ref = request.match_info["image_ref"]
        variant = request.query.get("variant", "original")
        if variant not in VARIANTS:
            raise validation_failed(
                f"variant must be one of {', '.join(VARIANTS)}.", parameter="variant"
            )
        print_size = _print_size(variant, request.query.get("print_size"), "print_size")
        record = self.repo.file_store(order, variant).get(
            self.repo.file_key(image_ref, variant, print_size)
        )
        if record is None or not self.blobs.has(record["sha256"]):
            raise not_found("image", image_ref)
        headers = {"Content-Type": record["content_type"], "X-Content-SHA256": record["sha256"]}
        return web.FileResponse(self.blobs.path(record["sha256"]), headers=headers)

    # ---- writes --------------------------------------------------------------------------

    async def put_order_handler(self, request: web.Request) -> web.Response:
        ref = _path_ref(request, "order_ref", ORDER_REF)
        scope_key = _scope_key(request)
        body = await _json_body(request)
        fingerprint = _fingerprint(request, json.dumps(body, sort_keys=True))
        if (replay := self._replay(scope_key, fingerprint)) is not None:
            return replay
        fields = _order_fields(body)
        event = self.repo.events.get(fields["event_id"])
        if event is None:
            raise validation_failed(
                "Unknown event_id.", field="event_id", event_id=fields["event_id"]
            )
        if event["status"] == "closed":
            raise ApiError(
                409, "event_closed", "The event is closed.", {"event_id": event["event_id"]}
            )
        now = iso(self.repo.now())
        order = self.repo.orders.get(ref)
        status = 200
        if order is None:
            status = 201
            self.repo.order_seq += 1
            order = {
                "order_ref": ref,
                "pmr_order_id": f"PMR-{self.repo.order_seq:06d}",
                "status": "received",
                "status_reason": None,
                "created_at": now,
                "images": {},
                "variants": {},
            }
            self.repo.orders[ref] = order
        order.update({name: None for name in ORDER_FIELDS if name != "metadata"})
        order.update({"metadata": {}, **fields, "updated_at": now})
        view = self.repo.order_view(order)
        self.repo.remember(scope_key, fingerprint, status, view)
        self.repo.save()
        return web.json_response(view, status=status)

    async def patch_order_handler(self, request: web.Request) -> web.Response:
        scope_key = _scope_key(request)
        body = await _json_body(request)
        fingerprint = _fingerprint(request, json.dumps(body, sort_keys=True))
        if (replay := self._replay(scope_key, fingerprint)) is not None:
            return replay
        if not isinstance(body, dict) or set(body) - {"status", "note"}:
            raise validation_failed("Only status and note may be sent.", field="body")
        if body.get("status") not in PUSHED_STATUSES:
            raise validation_failed(
                f"status must be one of {', '.join(PUSHED_STATUSES)}.", field="status"
            )
        note = body.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 2000):
            raise validation_failed("note must be text of at most 2000 characters.", field="note")
        order = self._order(request)
        expected = order.get("expected_image_count")
        if body["status"] == "completed" and expected is not None:
            stored = len(order["images"])
            if stored < expected:
                raise ApiError(
                    409,
                    "images_missing",
                    f"The order announced {expected} images; {stored} are stored.",
                    {"expected": expected, "stored": stored},
                )
        order.update(
            {"status": body["status"], "status_reason": note, "updated_at": iso(self.repo.now())}
        )
        view = self.repo.order_view(order)
        self.repo.remember(scope_key, fingerprint, 200, view)
        self.repo.save()
        return web.json_response(view)

    async def put_image_handler(self, request: web.Request) -> web.Response:
        ref = _path_ref(request, "order_ref", ORDER_REF)
        image_ref = _path_ref(request, "image_ref", IMAGE_REF)
        scope_key = _scope_key(request)
        variant, print_size, dpi = _variant_headers(request)
        file_key = self.repo.file_key(image_ref, variant, print_size)
        self.repo.puts[f"{ref}/{file_key}"] += 1
        declared, filename, metadata = _image_headers(request)
        # The declared checksum names the bytes (they are checked before anything is stored),
        # so it stands for the body in the fingerprint and a replay needs no upload; the
        # variant and print size are part of what is written (another file of the image).
        fingerprint = _fingerprint(request, f"{declared} {variant} {print_size or ''}")
        if (replay := self._replay(scope_key, fingerprint)) is not None:
            return replay
        order = self._order(request)
        event = self.repo.events.get(order["event_id"])
        if event is not None and event["status"] == "closed":
            raise ApiError(
                409, "event_closed", "The event is closed.", {"event_id": order["event_id"]}
            )
        if (request.content_length or 0) > self.max_image_bytes:
            raise _too_large(self.max_image_bytes)
        upload = self.blobs.open_upload()
        try:
            async for chunk in request.content.iter_chunked(CHUNK):
                upload.write(chunk)
                if upload.size > self.max_image_bytes:
                    raise _too_large(self.max_image_bytes)
            if upload.size == 0:
                raise validation_failed("The image is empty.", field="body")
            if upload.sha256 != declared:
                raise ApiError(
                    422,
                    "checksum_mismatch",
                    "X-Content-SHA256 does not match the bytes received.",
                    {"expected": declared, "actual": upload.sha256, "size": upload.size},
                )
        except BaseException:
            upload.discard()
            raise
        now = iso(self.repo.now())
        store = self.repo.file_store(order, variant)
        record = store.get(file_key)
        status = 201 if record is None else 200
        described = {
            "content_type": request.content_type,
            "filename": filename,
            "metadata": metadata,
            "variant": variant,
            "print_size": print_size,
            "dpi": dpi,
        }
        if record is not None and record["sha256"] == upload.sha256:
            upload.discard()  # the same bytes are stored already: nothing is written
            if any(record.get(key) != value for key, value in described.items()):
                record.update(described)
                order["updated_at"] = now
        else:
            upload.commit(self.blobs.path(upload.sha256))
            record = {
                "image_ref": image_ref,
                "writes": 0 if record is None else record["writes"],
                **(record or {}),
            }
            record.update(described)
            record.update({"sha256": upload.sha256, "size": upload.size, "stored_at": now})
            record["writes"] += 1
            store[file_key] = record
            order["updated_at"] = now
        view = self.repo.image_view(record, _image_url(request, ref, record))
        self.repo.remember(scope_key, fingerprint, status, view)
        self.repo.save()
        return web.json_response(view, status=status)

    # ---- shared --------------------------------------------------------------------------

    def _order(self, request: web.Request) -> dict[str, Any]:
        ref = request.match_info["order_ref"]
        order = self.repo.orders.get(ref)
        if order is None:
            raise not_found("order", ref)
        return order

    def _replay(self, scope_key: str, fingerprint: str) -> web.Response | None:
        """The remembered answer for this key, or 409 when the key came with another body."""
        record = self.repo.remembered(scope_key)
        if record is None:
            return None
        if record["fingerprint"] != fingerprint:
            raise ApiError(
                409,
                "idempotency_conflict",
                "This Idempotency-Key was used with a different request.",
                {"idempotency_key": scope_key.split(":", 1)[1]},
            )
        return web.json_response(
            record["body"], status=record["status"], headers={"Idempotent-Replayed": "true"}
        )


# ---- request parsing ---------------------------------------------------------------------


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _path_ref(request: web.Request, name: str, pattern: re.Pattern[str]) -> str:
    value = request.match_info[name]
    if not pattern.fullmatch(value):
        raise validation_failed(f"{name} has characters the PMR does not allow.", parameter=name)
    return value


def _scope_key(request: web.Request) -> str:
    """The remembered-answer key: the client's id and its Idempotency-Key."""
    key = request.headers.get("Idempotency-Key", "")
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise validation_failed(
            "Every write needs an Idempotency-Key (1-255 visible ASCII characters).",
            header="Idempotency-Key",
        )
    token = request[TOKEN_KEY]
    return f"{token.client_id}:{key}"


def _fingerprint(request: web.Request, body: str) -> str:
    text = f"{request.method} {request.path}\n{body}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def _json_body(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise validation_failed("The body must be application/json.", header="Content-Type")
    try:
        return json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise validation_failed(f"The body is not JSON: {exc}", field="body") from exc


def _order_fields(body: Any) -> dict[str, Any]:
    """``OrderWrite`` checked field by field; every problem listed in ``details.fields``."""
    if not isinstance(body, dict):
        raise validation_failed("The body must be a JSON object.", field="body")
    problems: dict[str, str] = {}
    for name in sorted(set(body) - set(ORDER_FIELDS)):
        problems[name] = "unknown field"
    if "event_id" not in body:
        problems["event_id"] = "required"
    for name, value in body.items():
        if name not in ORDER_FIELDS or name in problems:
            continue
        kinds, max_length = ORDER_FIELDS[name]
        if isinstance(value, bool) or not isinstance(value, kinds):
            problems[name] = "wrong type"
        elif isinstance(value, str) and max_length is not None and len(value) > max_length:
            problems[name] = f"longer than {max_length}"
    if not problems:
        if not EVENT_ID.fullmatch(body["event_id"]):
            problems["event_id"] = "not a valid Event ID"
        if body.get("customer_id") is not None and not CUSTOMER_ID.fullmatch(body["customer_id"]):
            problems["customer_id"] = "not a valid customer id"
        if (count := body.get("expected_image_count")) is not None and count < 0:
            problems["expected_image_count"] = "negative"
        if body.get("order_date") is not None:
            try:
                parse_iso(body["order_date"])
            except ValueError:
                problems["order_date"] = "not an RFC 3339 date-time"
    if problems:
        raise validation_failed("The order is not valid.", fields=problems)
    return dict(body)


def _image_headers(request: web.Request) -> tuple[str, str, dict[str, Any]]:
    """Checked X-Content-SHA256, decoded X-Filename and X-Image-Metadata, image Content-Type."""
    if not request.content_type.startswith("image/"):
        raise validation_failed("Content-Type must be an image type.", header="Content-Type")
    declared = request.headers.get("X-Content-SHA256", "").strip().lower()
    if not SHA256.fullmatch(declared):
        raise validation_failed(
            "X-Content-SHA256 must be the hex SHA-256 of the body.", header="X-Content-SHA256"
        )
    filename = unquote(request.headers.get("X-Filename", ""), errors="strict")
    if not filename.strip():
        raise validation_failed("X-Filename is required.", header="X-Filename")
    encoded = request.headers.get("X-Image-Metadata")
    metadata: Any = {}
    if encoded is not None:
        try:
            if len(encoded) > MAX_METADATA_HEADER:
                raise ValueError("too long")
            metadata = json.loads(base64.b64decode(encoded, validate=True).decode("utf-8"))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise validation_failed(
                f"X-Image-Metadata is not base64 JSON: {exc}", header="X-Image-Metadata"
            ) from exc
        if not isinstance(metadata, dict):
            raise validation_failed(
                "X-Image-Metadata must encode a JSON object.", header="X-Image-Metadata"
            )
    return declared, filename, metadata


def _variant_headers(request: web.Request) -> tuple[str, str | None, int | None]:
    """``X-Image-Variant`` (absent: ``original``, the meaning of a 1.5 upload), the
    ``X-Print-Size`` a print needs (and nothing else may carry), and ``X-Image-DPI``."""
    variant = request.headers.get("X-Image-Variant", "original").strip()
    if variant not in VARIANTS:
        raise validation_failed(
            f"X-Image-Variant must be one of {', '.join(VARIANTS)}.", header="X-Image-Variant"
        )
    print_size = _print_size(variant, request.headers.get("X-Print-Size"), "X-Print-Size")
    dpi_text = request.headers.get("X-Image-DPI")
    dpi = None
    if dpi_text is not None:
        dpi_text = dpi_text.strip()
        if not (dpi_text.isascii() and dpi_text.isdigit()) or not 1 <= int(dpi_text) <= MAX_DPI:
            raise validation_failed(
                f"X-Image-DPI must be a whole number from 1 to {MAX_DPI}.", header="X-Image-DPI"
            )
        dpi = int(dpi_text)
    return variant, print_size, dpi


def _print_size(variant: str, value: str | None, name: str) -> str | None:
    """The print size: required for a print, refused for any other variant."""
    if variant != "print":
        if value is not None:
            raise validation_failed(f"{name} is only for the print variant.", parameter=name)
        return None
    if value is None or not PRINT_SIZE.fullmatch(value.strip()):
        raise validation_failed(
            f"A print needs {name} (letters, digits, '.', '_', '-').", parameter=name
        )
    return value.strip()


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", "The image is too large.", {"max_bytes": limit})


def _image_url(request: web.Request, order_ref: str, record: dict[str, Any]) -> str:
    """Where a stored file is served: the original plainly, other variants by query."""
    url = (
        f"{request.scheme}://{request.host}/v1/orders/{quote(order_ref, safe='')}"
        f"/images/{quote(record['image_ref'], safe='')}"
    )
    variant = record.get("variant") or "original"
    if variant == "original":
        return url
    query = {"variant": variant}
    if record.get("print_size"):
        query["print_size"] = record["print_size"]
    return f"{url}?{urlencode(query)}"


def _query_time(request: web.Request, name: str) -> datetime:
    text = request.query.get(name)
    if not text:
        raise validation_failed(f"{name} is required.", parameter=name)
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise validation_failed(
            f"{name} must be an RFC 3339 date-time with an offset.", parameter=name
        ) from exc


def _encode_cursor(order: dict[str, Any]) -> str:
    raw = json.dumps([order["updated_at"], order["order_ref"]]).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        updated_at, ref = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        return parse_iso(updated_at), str(ref)
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError) as exc:
        raise validation_failed(
            "cursor is not one this PMR handed out.", parameter="cursor"
        ) from exc
