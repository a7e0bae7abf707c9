"""``Idempotency-Key`` for the API's create requests.

A client that does not know whether its ``POST`` arrived (a timeout, a dropped
connection) sends it again with the same ``Idempotency-Key`` header. The
first request with a key runs; any later one by the same user with the same
key and the same request (method, path, body) gets the first answer back,
status and body byte for byte, with ``Idempotent-Replayed: true``, and
creates nothing. The same key with a different request is 409
``idempotency_key_reused``. Keys are kept ``API_IDEMPOTENCY_HOURS`` (24).

How duplicates are kept out, also when they arrive at the same moment: the
key is claimed by inserting an ``accounts.IdempotencyRecord`` row, unique on
``(user, key)``, *in the same transaction* as the create itself, and the
answer is written into that row before the commit. A concurrent duplicate's
insert waits on the unique index until the first transaction ends: if it
committed, the duplicate reads the stored answer and replays it; if it rolled
back, the duplicate's insert succeeds and it runs as the first. The object
and the record are committed together or not at all, so there is no window in
which an object exists without its key (as a Redis lock beside the database
would leave) and no lock to expire while a slow upload is still running.

Only answers that created something are kept: 2xx, and statuses a view names
(``also_store``, e.g. 422 for an image kept as rejected). An error that
changed nothing rolls the claim back too, so a retry runs again.

Usage: decorate the view method that creates, ``@idempotent()``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from rest_framework import exceptions, status

from accounts.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
#: Visible ASCII, 1 to 255 characters: a UUID, a hash, a client's own request id.
_KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,255}")
#: Answer headers kept with the body (the rest are added again on the way out).
_KEPT_HEADERS = ("Content-Type", "Location")


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This Idempotency-Key was already used for a different request."
    default_code = "idempotency_key_reused"


class IdempotencyKeyBusy(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still running; retry shortly."
    default_code = "idempotency_key_in_use"


def ttl() -> timedelta:
    return timedelta(hours=settings.API_IDEMPOTENCY_HOURS)


def checked_key(raw: str) -> str:
    if not _KEY_SHAPE.fullmatch(raw):
        raise exceptions.ValidationError(
            {HEADER: ["1 to 255 visible ASCII characters (no spaces), e.g. a UUID."]}
        )
    return raw


def _file_facts(upload: UploadedFile) -> dict[str, Any]:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return {"name": upload.name, "size": upload.size, "sha256": digest.hexdigest()}


def _canonical(value: Any) -> Any:
    if isinstance(value, UploadedFile):
        return _file_facts(value)
    if isinstance(value, MultiValueDict):
        return {key: [_canonical(v) for v in value.getlist(key)] for key in sorted(value)}
    return value


def fingerprint(request) -> str:
    """SHA-256 of what makes two requests "the same": method, path, query, parsed body.

    The parsed body, not the raw bytes: a client's retry may use another
    multipart boundary or JSON spacing for the same content. Files count by
    name, size and SHA-256. Reading ``request.data`` here surfaces a malformed
    body as the usual 400 before anything is claimed.
    """
    body = {
        "method": request.method,
        "path": request.path.rstrip("/"),
        "query": _canonical(request.query_params),
        "data": _canonical(request.data),
    }
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()


def _claim(user: Any, key: str, print_: str) -> IdempotencyRecord | None:
    """Insert the key's row (``None``: it is ours) or return the row a first request left."""
    for _ in range(3):
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(user=user, key=key, fingerprint=print_)
            return None
        except IntegrityError:
            pass  # the first request committed: its row is visible now
        existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if existing is None:
            continue  # purged in between: claim again
        if existing.created_at < timezone.now() - ttl():
            existing.delete()  # expired: the key is free again
            continue
        return existing
    raise IdempotencyKeyBusy()


def _replay(record: IdempotencyRecord, print_: str) -> HttpResponse:
    if record.fingerprint != print_:
        raise IdempotencyKeyReused()
    if record.status_code is None:
        raise IdempotencyKeyBusy()
    response = HttpResponse(record.body.encode("utf-8"), status=record.status_code)
    for name, value in record.headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def idempotent(also_store: Iterable[int] = ()) -> Callable:
    """Decorator for a DRF view method that creates: honour ``Idempotency-Key``.

    The method runs after authentication, permissions and throttling (DRF's
    ``initial``), so a replay is only ever shown to the user who may make the
    request now.
    """
    stored_statuses = frozenset(also_store)

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(view, request, *args: Any, **kwargs: Any):
            raw = request.headers.get(HEADER)
            user = getattr(request, "user", None)
            if raw is None or user is None or not user.is_authenticated:
                return method(view, request, *args, **kwargs)
            key = checked_key(raw)
            print_ = fingerprint(request)
            with transaction.atomic():
                record = _claim(user, key, print_)
                if record is not None:
                    return _replay(record, print_)
                try:
                    response = method(view, request, *args, **kwargs)
                except Exception as exc:
                    response = view.handle_exception(exc)
                code = response.status_code
                if not (200 <= code < 300 or code in stored_statuses):
                    transaction.set_rollback(True)  # nothing created: free the key
                    return response
                response = view.finalize_response(request, response, *args, **kwargs)
                if hasattr(response, "render"):
                    response.render()
                IdempotencyRecord.objects.filter(user=user, key=key).update(
                    status_code=code,
                    headers={h: response[h] for h in _KEPT_HEADERS if response.has_header(h)},
                    body=response.content.decode("utf-8"),
                )
            return response

        return wrapper

    return decorate


def purge_expired() -> int:
    """Delete records older than ``API_IDEMPOTENCY_HOURS`` (hourly, by Celery beat)."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - ttl()).delete()
    return deleted
