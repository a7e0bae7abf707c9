"""The PMR v1 client (pmr/contract/pmr-v1.yaml): sync httpx, plain dicts in and out, no Django.

One ``PMRClient`` per worker process, shared by its threads: the httpx connection pool is
thread-safe and the OAuth token cache is guarded by a lock, so a burst of outbox tasks fetches
one token, not one each.

What a call does:

* fetch (or reuse) a client-credentials token, send ``Authorization: Bearer`` and ``X-API-Key``;
* on ``401 token_expired`` (or ``invalid_token``: a PMR that restarted forgot its tokens)
  drop the token, fetch a new one and repeat the call, once per call;
* retry network errors, timeouts, 429 and 5xx, with exponential backoff and jitter (429 and
  503 wait ``Retry-After`` instead), ``attempts`` tries in all; never retry other 4xx;
* raise a typed ``PMRError`` whose ``retryable`` tells the outbox whether to try again later.

Writes carry the caller's idempotency key on every attempt, so a retry after a lost answer
cannot store anything twice.
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import random as _random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import quote

import httpx

from pmr.clients.bodies import ImageContent, ReplayableBody
from pmr.clients.errors import (
    PMRAuthError,
    PMRChecksumMismatch,
    PMRError,
    PMREventClosed,
    PMRIdempotencyConflict,
    PMRImagesMissing,
    PMRNetworkError,
    PMRNotFound,
    PMRProtocolError,
    PMRRateLimited,
    PMRTimeout,
    PMRUnavailable,
    PMRValidationError,
)

logger = logging.getLogger("pmr.client")

SCOPE = "pmr.read pmr.write"
#: 401 codes after which a fresh token may help (once per call).
TOKEN_REFRESH_CODES = frozenset({"token_expired", "invalid_token"})
#: The contract's limit for the base64 ``X-Image-Metadata`` header.
MAX_METADATA_HEADER = 49152
JSON_TYPE = "application/json; charset=utf-8"
#: The files of an image (contract 1.6, ``X-Image-Variant``).
VARIANTS = ("original", "edited", "print")


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: float  # clock() reading after which the next call fetches a new token


class PMRClient:
    """Talks to one PMR. ``close()`` (or ``with``) releases the connection pool.

    ``timeout`` is ``(connect, read)`` seconds (a single number sets both); writes of a body
    use the read timeout per chunk. ``sleep``, ``random`` and ``clock`` are injectable so tests
    can observe backoff waits and token expiry without waiting. ``transport`` lets tests
    record or fake the wire.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        api_key: str,
        *,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        attempts: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_after: float = 10.0,
        token_margin: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = "rkh-photo-orders-pmr-client/1",
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self._api_key = api_key
        self.attempts = attempts
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.max_retry_after = max_retry_after
        self.token_margin = token_margin
        self._sleep, self._random, self._clock = sleep, random, clock
        self._token: _Token | None = None
        self._token_lock = threading.Lock()
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=connect),
            transport=transport,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:  # no secrets in logs or tracebacks
        return f"PMRClient({self.base_url!r}, client_id={self.client_id!r})"

    # ---- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the calls -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "version": ...}``; also proves the credentials work."""
        return _json(self._call("GET", "/v1/health"))

    def get_event(self, event_id: str) -> dict[str, Any]:
        """The event (``status`` open/closed); ``PMRNotFound`` for an unknown Event ID."""
        return _json(self._call("GET", f"/v1/events/{_segment(event_id)}"))

    def get_customer(self, customer_id: str) -> dict[str, Any]:
        return _json(self._call("GET", f"/v1/customers/{_segment(customer_id)}"))

    def find_customers(self, email: str) -> list[dict[str, Any]]:
        """Customers with this e-mail address (case-insensitive); empty list when none."""
        answer = _json(self._call("GET", "/v1/customers", params={"email": email}))
        return _results(answer)

    def put_order(
        self, order_ref: str, metadata: Mapping[str, Any], idempotency_key: str
    ) -> tuple[bool, dict[str, Any]]:
        """Create or update the order; ``metadata`` is the whole ``OrderWrite`` body.

        Returns ``(created, order)``: created is True on 201 (including a replayed 201).
        """
        response = self._call(
            "PUT",
            f"/v1/orders/{_segment(order_ref)}",
            json_body=metadata,
            idempotency_key=idempotency_key,
        )
        return response.status_code == 201, _json(response)

    def put_image(
        self,
        order_ref: str,
        image_ref: str,
        content: ImageContent,
        *,
        content_type: str,
        filename: str,
        idempotency_key: str,
        sha256: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        variant: str | None = None,
        print_size: str | None = None,
        dpi: int | None = None,
    ) -> tuple[bool, dict[str, Any]]:
        """Upload one file of an image; ``content`` is bytes, a path or a seekable binary file.

        Files are streamed (never read into memory); ``sha256`` is computed by a streaming
        pass when not given. ``variant`` (``original``, ``edited``, ``print``; contract 1.6)
        says which file of the image this is, ``print_size`` which print (required for a
        print, refused otherwise) and ``dpi`` the file's effective DPI; without ``variant``
        no header is sent and the PMR stores the image's original, as before 1.6. Returns
        ``(created, stored_image)``: created is False when the PMR already had this file
        (same bytes: nothing written).
        """
        if variant not in (None, *VARIANTS):
            raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
        if (variant == "print") != bool(print_size):
            raise ValueError("print_size is required for the print variant and only for it")
        image = ReplayableBody(content)
        digest = (sha256 or image.sha256()).lower()
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(image.length),
            "X-Content-SHA256": digest,
            "X-Filename": quote(filename, safe=""),
        }
        if variant is not None:
            headers["X-Image-Variant"] = variant
        if print_size:
            headers["X-Print-Size"] = print_size
        if dpi is not None:
            headers["X-Image-DPI"] = str(int(dpi))
        if metadata:
            encoded = _encode_metadata(metadata)
            if len(encoded) > MAX_METADATA_HEADER:
                raise PMRValidationError(
                    "image metadata is too large for X-Image-Metadata",
                    code="validation_failed",
                    details={"header": "X-Image-Metadata", "size": len(encoded)},
                )
            headers["X-Image-Metadata"] = encoded
        response = self._call(
            "PUT",
            f"/v1/orders/{_segment(order_ref)}/images/{_segment(image_ref)}",
            headers=headers,
            body=image.content,
            idempotency_key=idempotency_key,
        )
        return response.status_code == 201, _json(response)

    def patch_order_status(
        self, order_ref: str, status: str, note: str | None, idempotency_key: str
    ) -> dict[str, Any]:
        """Push ``processing`` / ``completed`` / ``cancelled``; returns the order."""
        response = self._call(
            "PATCH",
            f"/v1/orders/{_segment(order_ref)}",
            json_body={"status": status, "note": note},
            idempotency_key=idempotency_key,
        )
        return _json(response)

    def get_order(self, order_ref: str) -> dict[str, Any]:
        """The PMR's view: ``status``, ``status_reason`` and the stored ``images``."""
        return _json(self._call("GET", f"/v1/orders/{_segment(order_ref)}"))

    def download_image(
        self,
        order_ref: str,
        image_ref: str,
        *,
        variant: str | None = None,
        print_size: str | None = None,
    ) -> bytes:
        """The stored bytes of an image's original, or of another ``variant`` (the ``url``
        of a stored file)."""
        path = f"/v1/orders/{_segment(order_ref)}/images/{_segment(image_ref)}"
        params = {"variant": variant} if variant else {}
        if print_size:
            params["print_size"] = print_size
        return self._call("GET", path, params=params or None).content

    def iter_orders_updated_since(
        self, since: datetime, *, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every order the PMR changed at or after ``since`` (aware datetime), page by page.

        Follows the ``next`` cursor; each page is one call with its own retries, so a long
        listing does not restart from the first page after a blip.
        """
        if since.tzinfo is None or since.utcoffset() is None:
            raise ValueError("since must be timezone-aware")
        stamp = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
        params: dict[str, Any] = {"updated_since": stamp, "limit": page_size}
        while True:
            answer = _json(self._call("GET", "/v1/orders", params=params))
            yield from _results(answer)
            cursor = answer.get("next")
            if not cursor:
                return
            params = {**params, "cursor": cursor}

    # ---- retries -------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Callable[[], bytes | Iterator[bytes]] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """One logical call: retries, one token refresh, typed errors. Returns a 2xx answer."""
        send_headers = dict(headers or {})
        if idempotency_key is not None:
            if not idempotency_key:
                raise ValueError("idempotency_key must not be empty")
            send_headers["Idempotency-Key"] = idempotency_key
        if json_body is not None:
            encoded = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False)
            body_bytes = encoded.encode("utf-8")
            send_headers["Content-Type"] = JSON_TYPE

            def body() -> bytes:
                return body_bytes

        refreshed = False
        for attempt in range(1, self.attempts + 1):
            try:
                while True:
                    token = self._bearer()
                    response = self._send(method, path, token, params, send_headers, body)
                    if (
                        response.status_code == 401
                        and not refreshed
                        and _error_code(response) in TOKEN_REFRESH_CODES
                    ):
                        refreshed = True  # once per call: a second refusal is raised
                        self._drop_token(token)
                        continue
                    break
                if response.status_code >= 300:
                    raise _error_from(response)
                return response
            except PMRError as exc:
                delay = self._retry_delay(exc, attempt)
                if delay is None:
                    raise
                logger.warning(
                    "PMR %s %s failed (%s), attempt %d of %d, retrying in %.2fs",
                    method,
                    path,
                    exc,
                    attempt,
                    self.attempts,
                    delay,
                )
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _retry_delay(self, exc: PMRError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to raise ``exc`` now."""
        if not exc.retryable or attempt >= self.attempts:
            return None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            # Do not hold a worker for minutes: a long Retry-After goes back to the caller
            # (PMRRateLimited.retry_after), which can schedule the retry instead.
            return retry_after if retry_after <= self.max_retry_after else None
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + self._random() * ceiling / 2  # "equal jitter": never zero

    def _send(
        self,
        method: str,
        path: str,
        token: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        body: Callable[[], bytes | Iterator[bytes]] | None,
    ) -> httpx.Response:
        all_headers = {
            **headers,
            "Authorization": f"Bearer {token}",
            "X-API-Key": self._api_key,
        }
        try:
            return self._http.request(
                method,
                path,
                params=params,
                headers=all_headers,
                content=body() if body is not None else None,
            )
        except httpx.TimeoutException as exc:
            raise PMRTimeout(f"PMR {method} {path} timed out: {exc!r}", code="timeout") from exc
        except httpx.TransportError as exc:
            raise PMRNetworkError(f"PMR {method} {path} failed: {exc!r}", code="network") from exc

    # ---- token ---------------------------------------------------------------------------

    def _bearer(self) -> str:
        """The cached token, or a new one (one fetch at a time for all threads)."""
        with self._token_lock:
            token = self._token
            if token is None or self._clock() >= token.refresh_at:
                token = self._fetch_token()
                self._token = token
            return token.value

    def _drop_token(self, value: str) -> None:
        """Forget the token the PMR refused, unless another thread already replaced it."""
        with self._token_lock:
            if self._token is not None and self._token.value == value:
                self._token = None

    def _fetch_token(self) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "scope": SCOPE,
        }
        started = self._clock()
        try:
            response = self._http.post("/oauth/token", data=form)
        except httpx.TimeoutException as exc:
            raise PMRTimeout(f"PMR token request timed out: {exc!r}", code="timeout") from exc
        except httpx.TransportError as exc:
            raise PMRNetworkError(f"PMR token request failed: {exc!r}", code="network") from exc
        if response.status_code != 200:
            error = _error_from(response)
            if not error.retryable and not isinstance(error, PMRAuthError):
                # invalid_scope, unsupported_grant_type...: configuration, like bad credentials
                raise PMRAuthError(
                    error.message, status=error.status, code=error.code, details=error.details
                )
            raise error
        answer = _json(response)
        access_token = answer.get("access_token")
        expires_in = answer.get("expires_in")
        if not isinstance(access_token, str) or not isinstance(expires_in, int | float):
            raise PMRProtocolError(
                "PMR token answer lacks access_token/expires_in", status=200, code="bad_token"
            )
        margin = min(self.token_margin, expires_in / 10)
        return _Token(access_token, started + max(0.0, expires_in - margin))


# ---- helpers -------------------------------------------------------------------------------


def _segment(value: str) -> str:
    """One path segment, percent-encoded so a ref can never change the path."""
    if not value:
        raise ValueError("path parameters must not be empty")
    return quote(str(value), safe="")


def _encode_metadata(metadata: Mapping[str, Any]) -> str:
    text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise PMRProtocolError(
            "PMR answer is not JSON", status=response.status_code, code="invalid_response"
        ) from exc
    if not isinstance(data, dict):
        raise PMRProtocolError(
            "PMR answer is not a JSON object", status=response.status_code, code="invalid_response"
        )
    return data


def _results(answer: dict[str, Any]) -> list[dict[str, Any]]:
    results = answer.get("results")
    if not isinstance(results, list):
        raise PMRProtocolError("PMR answer lacks results", code="invalid_response")
    return results


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _error_code(response: httpx.Response) -> str | None:
    code = _error_body(response).get("code")
    return code if isinstance(code, str) else None


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: an integer or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_from(response: httpx.Response) -> PMRError:
    """The typed error for a non-2xx answer: by status first, then by code."""
    status = response.status_code
    body = _error_body(response)
    code = body.get("code") if isinstance(body.get("code"), str) else None
    message = body.get("message") if isinstance(body.get("message"), str) else None
    message = message or f"PMR answered HTTP {status}"
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    kwargs: dict[str, Any] = {"status": status, "code": code, "details": details}
    if status == 429:
        return PMRRateLimited(
            message, retry_after=_retry_after(response.headers.get("Retry-After")), **kwargs
        )
    if status >= 500:
        return PMRUnavailable(
            message, retry_after=_retry_after(response.headers.get("Retry-After")), **kwargs
        )
    if status in (401, 403):
        return PMRAuthError(message, **kwargs)
    if status == 404:
        return PMRNotFound(message, **kwargs)
    if status == 409 and code == "event_closed":
        return PMREventClosed(message, **kwargs)
    if status == 409 and code == "idempotency_conflict":
        return PMRIdempotencyConflict(message, **kwargs)
    if status == 409 and code == "images_missing":
        return PMRImagesMissing(message, **kwargs)
    if code == "checksum_mismatch":
        return PMRChecksumMismatch(message, **kwargs)
    if 400 <= status < 500:
        return PMRValidationError(message, **kwargs)
    return PMRProtocolError(message, **kwargs)  # 1xx/3xx: nothing the contract answers
