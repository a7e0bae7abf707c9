"""The resumable upload protocol: create, append at the stored offset, finish into an Image."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client

from orders import uploads
from orders.models import Image, Order, OrderEvent, Upload

pytestmark = pytest.mark.django_db

CHUNK = 1000


@pytest.fixture(autouse=True)
def small_chunks(settings, media_root):
    settings.UPLOAD_CHUNK_BYTES = CHUNK
    return settings


@pytest.fixture
def user_client(client, users):
    client.force_login(users["User"])
    return client


def payload(n: int, seed: int = 1) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(n))


def _open(upload_api, order, data: bytes, name="photo.jpg") -> str:
    response = upload_api.create(order, name, len(data))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["offset"] == 0
    assert body["chunk_size"] == CHUNK
    assert response["Location"] == upload_api.url(order, body["id"])
    return body["id"]


def test_create_three_chunks_complete(user_client, upload_api, own_order, media_root):
    data = payload(2500)
    upload_id = _open(upload_api, own_order, data, "IMG_0001.JPG")
    upload = Upload.objects.get(pk=upload_id)
    assert uploads.part_folder(upload) == f"uploads/{upload.pk.hex}"
    assert uploads.stored_bytes(upload) is None  # nothing stored before the first chunk

    for offset in (0, 1000):
        response = upload_api.patch(own_order, upload_id, data[offset : offset + CHUNK], offset)
        assert response.status_code == 200, response.content
        assert uploads.stored_bytes(upload) == data[: offset + CHUNK]
        assert response.json()["offset"] == offset + CHUNK
        assert response["Upload-Offset"] == str(offset + CHUNK)
        assert response.json()["done"] is False

    response = upload_api.patch(own_order, upload_id, data[2000:], 2000)
    assert response.status_code == 200
    body = response.json()
    assert body["done"] is True
    assert body["offset"] == 2500
    image = Image.objects.get(pk=body["image"]["id"])
    assert body["image"]["status"] == Image.Status.UPLOADED == image.status
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert image.file_size == 2500
    assert image.original_filename == "IMG_0001.JPG"
    with image.original.open("rb") as stored:
        assert stored.read() == data
    upload = Upload.objects.get(pk=upload_id)
    assert (upload.status, upload.image_id, upload.offset) == ("complete", image.pk, 2500)
    assert uploads.stored_bytes(upload) is None  # the chunks are gone once the image is stored
    assert not (Path(media_root) / "uploads" / upload.pk.hex).exists()
    own_order.refresh_from_db()
    assert own_order.total_images == 1
    assert own_order.status == Order.Status.PENDING  # images arriving
    assert own_order.timeline.filter(kind=OrderEvent.Kind.IMAGE_ADDED).count() == 1

    # Asking again after completion: done, with the image (a client that lost the answer).
    status = upload_api.status(own_order, upload_id).json()
    assert status["done"] is True
    assert status["image"]["id"] == image.pk
    # Resending the last chunk is not applied twice.
    again = upload_api.patch(own_order, upload_id, data[2000:], 2000)
    assert again.status_code == 409
    assert again.json()["error"]["details"]["offset"] == 2500
    assert Image.objects.filter(order=own_order).count() == 1


def test_wrong_offset_is_409_with_the_stored_offset(user_client, upload_api, own_order):
    data = payload(2500)
    upload_id = _open(upload_api, own_order, data)
    assert upload_api.patch(own_order, upload_id, data[:CHUNK], 0).status_code == 200

    for wrong in (0, 500, 2000):
        response = upload_api.patch(own_order, upload_id, data[wrong : wrong + 10], wrong)
        assert response.status_code == 409
        body = response.json()
        assert body["error"]["code"] == "offset_mismatch"
        assert body["error"]["details"]["offset"] == CHUNK
        assert response["Upload-Offset"] == str(CHUNK)
    assert Upload.objects.get(pk=upload_id).offset == CHUNK


def test_resume_after_a_dropped_chunk(user_client, upload_api, own_order):
    """Chunk 2 never arrives; the client asks for the offset and continues from there."""
    data = payload(2500, seed=7)
    upload_id = _open(upload_api, own_order, data)
    assert upload_api.patch(own_order, upload_id, data[:CHUNK], 0).status_code == 200
    # ...connection drops while sending bytes 1000-2000: nothing reaches the server.

    head = upload_api.status(own_order, upload_id, method="head")
    assert head.status_code == 200
    assert head["Upload-Offset"] == str(CHUNK)
    assert head["Upload-Length"] == "2500"
    assert head.content == b""
    get = upload_api.status(own_order, upload_id).json()
    assert (get["offset"], get["size"], get["done"]) == (CHUNK, 2500, False)

    offset = get["offset"]
    while offset < len(data):
        response = upload_api.patch(own_order, upload_id, data[offset : offset + CHUNK], offset)
        assert response.status_code == 200
        offset = response.json()["offset"]
    image = Image.objects.get(upload__pk=upload_id)
    assert image.sha256 == hashlib.sha256(data).hexdigest()


def test_bytes_written_by_a_failed_attempt_are_overwritten(user_client, upload_api, own_order):
    """A write that reached the disk but not the database (crash) leaves junk past the offset."""
    data = payload(1800, seed=3)
    upload_id = _open(upload_api, own_order, data)
    assert upload_api.patch(own_order, upload_id, data[:CHUNK], 0).status_code == 200
    upload = Upload.objects.get(pk=upload_id)
    # A chunk stored at the current offset whose offset never reached the database.
    default_storage.save(
        f"{uploads.part_folder(upload)}/{CHUNK:015d}-1200.chunk", ContentFile(b"JUNK" * 300)
    )
    response = upload_api.patch(own_order, upload_id, data[CHUNK:], CHUNK)
    assert response.json()["done"] is True
    image = Image.objects.get(upload__pk=upload_id)
    assert image.sha256 == hashlib.sha256(data).hexdigest()


def test_oversize_is_refused_up_front(user_client, upload_api, own_order, settings):
    settings.INGEST_MAX_FILE_BYTES = 5 * 1024 * 1024
    response = upload_api.create(own_order, "huge.tif", 5 * 1024 * 1024 + 1)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "file_too_large"
    assert "larger than the 5 MB limit" in body["error"]["message"]
    assert not Upload.objects.exists()
    # Exactly at the limit is fine.
    assert upload_api.create(own_order, "ok.tif", 5 * 1024 * 1024).status_code == 201


def test_empty_file_is_refused_up_front(user_client, upload_api, own_order):
    response = upload_api.create(own_order, "empty.jpg", 0)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "File is empty (0 bytes)."


@pytest.mark.parametrize("status", [Order.Status.COMPLETED, Order.Status.CANCELLED])
def test_closed_order_is_refused(user_client, upload_api, own_order, status):
    Order.objects.filter(pk=own_order.pk).update(status=status)
    own_order.refresh_from_db()
    response = upload_api.create(own_order, "late.jpg", 10)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "order_closed"
    assert "no more images can be added" in response.json()["error"]["message"]


def test_order_closed_while_uploading_stops_the_upload(user_client, upload_api, own_order):
    data = payload(1500)
    upload_id = _open(upload_api, own_order, data)
    assert upload_api.patch(own_order, upload_id, data[:CHUNK], 0).status_code == 200
    Order.objects.filter(pk=own_order.pk).update(status=Order.Status.CANCELLED)
    response = upload_api.patch(own_order, upload_id, data[CHUNK:], CHUNK)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "order_closed"
    assert not Image.objects.filter(order=own_order).exists()
    upload = Upload.objects.get(pk=upload_id)
    assert upload.status == "aborted"
    assert uploads.stored_bytes(upload) is None


def test_lost_part_file_stops_the_upload_with_410(user_client, upload_api, own_order):
    data = payload(1500)
    upload_id = _open(upload_api, own_order, data)
    assert upload_api.patch(own_order, upload_id, data[:CHUNK], 0).status_code == 200
    uploads.delete_parts(Upload.objects.get(pk=upload_id))
    response = upload_api.patch(own_order, upload_id, data[CHUNK:], CHUNK)
    assert (response.status_code, response.json()["error"]["code"]) == (410, "part_missing")
    assert Upload.objects.get(pk=upload_id).status == "aborted"
    assert upload_api.status(own_order, upload_id).json()["status"] == "aborted"


def test_order_closed_at_the_last_chunk_aborts_and_drops_the_bytes(
    user_client, upload_api, own_order, monkeypatch
):
    """``add_image`` refuses (order closed between the lock checks): the upload ends cleanly."""
    from utilities.errors import OrderError

    def refuse(*args, **kwargs):
        raise OrderError("Order is cancelled; no images can be added.")

    monkeypatch.setattr(uploads.intake, "add_image", refuse)
    data = payload(600)
    upload_id = _open(upload_api, own_order, data)
    response = upload_api.patch(own_order, upload_id, data, 0)
    assert response.status_code == 409
    upload = Upload.objects.get(pk=upload_id)
    assert (upload.status, upload.offset) == ("aborted", 0)
    assert uploads.stored_bytes(upload) is None
    again = upload_api.patch(own_order, upload_id, data, 0)
    assert again.status_code == 410


def test_viewer_is_refused(client, users, upload_api, own_order):
    client.force_login(users["Viewer"])
    response = upload_api.create(own_order, "x.jpg", 10)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_another_users_upload_id_is_404(client, users, upload_api, own_order):
    client.force_login(users["User"])
    data = payload(1500)
    upload_id = _open(upload_api, own_order, data)

    # A Manager may upload to the order, but this upload is not theirs.
    client.force_login(users["Manager"])
    assert upload_api.status(own_order, upload_id).status_code == 404
    assert upload_api.patch(own_order, upload_id, data[:CHUNK], 0).status_code == 404
    # The same id under another order is unknown too.
    client.force_login(users["User"])
    other = Order.objects.create(
        order_ref="ORD-1999-000001",
        event=own_order.event,
        customer_name="x",
        order_date=own_order.order_date,
        created_by=users["User"],
    )
    assert upload_api.status(other, upload_id).status_code == 404
    assert Upload.objects.get(pk=upload_id).offset == 0


def test_filename_never_reaches_the_file_system(user_client, upload_api, own_order, media_root):
    data = payload(100)
    upload_id = _open(upload_api, own_order, data, name="../../etc/passwd.jpg")
    response = upload_api.patch(own_order, upload_id, data, 0)
    image = Image.objects.get(pk=response.json()["image"]["id"])
    assert image.original_filename == "passwd.jpg"
    assert image.original.name.startswith(f"originals/{own_order.pk}/")
    assert ".." not in image.original.name
    assert not list(Path(media_root).rglob("passwd*"))


def test_duplicate_file_is_done_and_rejected_with_a_reason(user_client, upload_api, own_order):
    data = payload(300)
    for name in ("a.jpg", "b.jpg"):
        upload_id = _open(upload_api, own_order, data, name=name)
        response = upload_api.patch(own_order, upload_id, data, 0)
    body = response.json()
    assert body["done"] is True
    assert body["image"]["status"] == "rejected"
    assert "Exact duplicate of a.jpg" in body["image"]["status_reason"]


# --- bad requests: always a 4xx with a JSON error, never a 500 ---------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid"),
        ("[1, 2]", "invalid"),
        ('"photo.jpg"', "invalid"),
        ("{}", "field_missing"),
        ('{"filename": "a.jpg"}', "field_missing"),
        ('{"size": 10}', "field_missing"),
        ('{"filename": "a.jpg", "size": -1}', "size_invalid"),
        ('{"filename": "a.jpg", "size": "10"}', "size_invalid"),
        ('{"filename": "a.jpg", "size": 10.5}', "size_invalid"),
        ('{"filename": "a.jpg", "size": true}', "size_invalid"),
        ('{"filename": "a.jpg", "size": null}', "size_invalid"),
        ('{"filename": "a.jpg", "size": 1e400}', "size_invalid"),
        ('{"filename": "", "size": 10}', "filename_missing"),
        ('{"filename": "   ", "size": 10}', "filename_missing"),
        ('{"filename": 12, "size": 10}', "filename_missing"),
        ('{"filename": "' + "a" * 2000 + '.jpg", "size": 10}', "filename_too_long"),
        ('{"filename": "a.jpg", "size": 99999999999999999999999999}', "file_too_large"),
        ("\xff\xfe", "invalid"),
        ("[" * 5000 + "]" * 5000, "invalid"),
    ],
)
def test_bad_create_bodies_are_400(user_client, upload_api, own_order, raw, code):
    response = upload_api.create(own_order, raw=raw.encode("latin-1"))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]
    assert not Upload.objects.exists()


def test_oversized_create_body_is_400(user_client, upload_api, own_order):
    raw = json.dumps({"filename": "a.jpg", "size": 10, "pad": "x" * 20000})
    response = upload_api.create(own_order, raw=raw.encode())
    assert response.status_code == 400
    assert "too large" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("offset", "code"),
    [
        (None, "offset_missing"),
        ("", "offset_missing"),
        ("abc", "offset_invalid"),
        ("-1", "offset_invalid"),
        ("1.5", "offset_invalid"),
        ("99999999999999999999999999999", "offset_invalid"),
        ("１２", "offset_invalid"),  # noqa: RUF001 - full-width digits are not an offset
    ],
)
def test_bad_offsets_are_400(user_client, upload_api, own_order, offset, code):
    upload_id = _open(upload_api, own_order, payload(100))
    headers = {} if offset is None else {"Upload-Offset": offset}
    response = user_client.generic(
        "PATCH",
        upload_api.url(own_order, upload_id),
        b"abc",
        content_type="application/offset+octet-stream",
        headers=headers,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_huge_but_numeric_offset_is_a_409_with_the_stored_offset(
    user_client, upload_api, own_order
):
    upload_id = _open(upload_api, own_order, payload(100))
    response = upload_api.patch(own_order, upload_id, b"abc", 9_223_372_036_854_775_807)
    assert response.status_code == 409
    assert response.json()["error"]["details"]["offset"] == 0


def test_empty_chunk_past_end_and_oversize_chunk_are_refused(user_client, upload_api, own_order):
    upload_id = _open(upload_api, own_order, payload(1500))
    empty = upload_api.patch(own_order, upload_id, b"", 0)
    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "chunk_empty")
    big = upload_api.patch(own_order, upload_id, b"x" * (CHUNK + 1), 0)
    assert (big.status_code, big.json()["error"]["code"]) == (413, "chunk_too_large")
    assert upload_api.patch(own_order, upload_id, b"x" * CHUNK, 0).status_code == 200
    past = upload_api.patch(own_order, upload_id, b"x" * 501, CHUNK)
    assert (past.status_code, past.json()["error"]["code"]) == (400, "chunk_past_end")
    assert Upload.objects.get(pk=upload_id).offset == CHUNK


def test_unknown_upload_id_and_method_are_refused(user_client, upload_api, own_order):
    assert upload_api.status(own_order, "8c5e8b2e-6a5e-4d55-9d0a-0d7d2b0e1f11").status_code == 404
    assert user_client.get(f"/orders/{own_order.order_ref}/uploads/not-a-uuid/").status_code == 404
    assert user_client.get(f"/orders/{own_order.order_ref}/uploads/").status_code == 405
    upload_id = _open(upload_api, own_order, payload(10))
    assert user_client.put(upload_api.url(own_order, upload_id)).status_code == 405


def test_upload_endpoints_need_the_csrf_token(users, own_order):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["User"])
    response = client.post(
        f"/orders/{own_order.order_ref}/uploads/",
        json.dumps({"filename": "a.jpg", "size": 10}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not Upload.objects.exists()
    client.get(f"/orders/{own_order.order_ref}/")  # sets the CSRF cookie, as the page does
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/orders/{own_order.order_ref}/uploads/",
        json.dumps({"filename": "a.jpg", "size": 10}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201


# --- concurrency: the row lock keeps two appends from interleaving ----------------------------


@pytest.mark.django_db(transaction=True)
def test_two_patches_at_the_same_offset_one_wins(users, event, media_root):
    from orders import services

    user = users["User"]
    order = services.create_order(actor=user, event=event, customer_name="Race")
    upload = uploads.create_upload(order, actor=user, filename="race.jpg", size=2 * CHUNK)
    barrier = threading.Barrier(2)
    results = []

    def send(fill: bytes):
        try:
            client = Client()
            client.force_login(user)
            barrier.wait()
            response = client.generic(
                "PATCH",
                f"/orders/{order.order_ref}/uploads/{upload.pk}/",
                fill * CHUNK,
                content_type="application/offset+octet-stream",
                headers={"Upload-Offset": "0"},
            )
            results.append((response.status_code, fill))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(fill,)) for fill in (b"a", b"b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(code for code, _ in results) == [200, 409]
    winner = next(fill for code, fill in results if code == 200)
    upload.refresh_from_db()
    assert upload.offset == CHUNK
    assert uploads.stored_bytes(upload) == winner * CHUNK


def test_stale_uploads_are_stopped_and_their_bytes_dropped(user_client, upload_api, own_order):
    import datetime as dt

    from django.utils import timezone

    old_id = _open(upload_api, own_order, payload(1500))
    fresh_id = _open(upload_api, own_order, payload(1500, seed=2))
    assert upload_api.patch(own_order, old_id, payload(1500)[:CHUNK], 0).status_code == 200
    Upload.objects.filter(pk=old_id).update(updated_at=timezone.now() - dt.timedelta(days=3))

    assert uploads.abort_stale_uploads(dt.timedelta(days=2)) == 1
    old, fresh = Upload.objects.get(pk=old_id), Upload.objects.get(pk=fresh_id)
    assert (old.status, fresh.status) == ("aborted", "open")
    assert uploads.stored_bytes(old) is None
    assert fresh.status == "open"
    # The browser that comes back hears "start again" (410), not a 500.
    response = upload_api.patch(own_order, old_id, payload(1500)[CHUNK:], CHUNK)
    assert response.status_code == 410


# --- a create the client may repeat (its own upload id), and discarding an upload -------------

CLIENT_ID = "0b9e7c1a-3f2d-4c5e-9a8b-7c6d5e4f3a2b"


def test_create_with_the_clients_id_can_be_repeated(user_client, upload_api, own_order):
    """A browser that lost the answer (reload, offline) asks again and gets the same upload."""
    data = payload(2500)
    body = {"filename": "shoot/IMG_7.JPG", "size": len(data), "id": CLIENT_ID}
    first = upload_api.create(own_order, body=body)
    assert first.status_code == 201, first.content
    assert first.json()["id"] == CLIENT_ID
    assert first["Location"] == upload_api.url(own_order, CLIENT_ID)
    assert upload_api.patch(own_order, CLIENT_ID, data[:CHUNK], 0).status_code == 200

    again = upload_api.create(own_order, body=body)
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["offset"]) == (CLIENT_ID, CHUNK)
    assert again["Location"] == upload_api.url(own_order, CLIENT_ID)
    assert Upload.objects.count() == 1

    for offset in (CHUNK, 2 * CHUNK):
        done = upload_api.patch(own_order, CLIENT_ID, data[offset : offset + CHUNK], offset)
    assert done.json()["done"] is True
    # Repeated after completion: the answer names the image, nothing new is opened.
    final = upload_api.create(own_order, body=body)
    assert final.status_code == 200
    assert final.json()["image"]["id"] == Image.objects.get().pk
    assert Upload.objects.count() == 1


def test_a_clients_id_is_never_someone_elses_upload(
    client, users, upload_api, own_order, make_order
):
    client.force_login(users["User"])
    body = {"filename": "a.jpg", "size": 100, "id": CLIENT_ID}
    assert upload_api.create(own_order, body=body).status_code == 201
    # Another person (here a Manager, who may upload to this order), another order, another
    # file: the id is taken, and nothing about the upload is answered.
    client.force_login(users["Manager"])
    taken = upload_api.create(own_order, body=body)
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "upload_id_taken")
    assert "offset" not in taken.json()
    client.force_login(users["User"])
    other_order = make_order(users["User"], customer_name="Other")
    assert upload_api.create(other_order, body=body).status_code == 409
    assert upload_api.create(own_order, body={**body, "size": 101}).status_code == 409
    assert upload_api.create(own_order, body={**body, "filename": "b.jpg"}).status_code == 409
    assert Upload.objects.count() == 1


@pytest.mark.parametrize("bad", ["not-a-uuid", 12, True, ["x"], ""])
def test_a_bad_client_id_is_400(user_client, upload_api, own_order, bad):
    response = upload_api.create(own_order, body={"filename": "a.jpg", "size": 10, "id": bad})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "upload_id_invalid")
    assert not Upload.objects.exists()


def test_discarding_an_upload_stops_it_and_drops_its_bytes(client, users, upload_api, own_order):
    client.force_login(users["User"])
    data = payload(1500)
    upload_id = _open(upload_api, own_order, data)
    assert upload_api.patch(own_order, upload_id, data[:CHUNK], 0).status_code == 200
    upload = Upload.objects.get(pk=upload_id)

    # Not someone else's to discard.
    client.force_login(users["Manager"])
    assert client.delete(upload_api.url(own_order, upload_id)).status_code == 404
    assert uploads.stored_bytes(upload) == data[:CHUNK]

    client.force_login(users["User"])
    response = client.delete(upload_api.url(own_order, upload_id))
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["done"]) == ("aborted", False)
    assert uploads.stored_bytes(upload) is None
    assert client.delete(upload_api.url(own_order, upload_id)).status_code == 200  # again: same
    # The browser that still sends hears "start again" (410).
    assert upload_api.patch(own_order, upload_id, data[CHUNK:], CHUNK).status_code == 410


def test_a_complete_upload_cannot_be_discarded(user_client, upload_api, own_order):
    data = payload(500)
    upload_id = _open(upload_api, own_order, data)
    assert upload_api.patch(own_order, upload_id, data, 0).json()["done"] is True
    response = user_client.delete(upload_api.url(own_order, upload_id))
    assert (response.status_code, response.json()["error"]["code"]) == (409, "upload_complete")
    assert Image.objects.filter(order=own_order).count() == 1
