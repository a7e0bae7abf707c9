"""The timeline reads as sentences, never codes: every kind any code writes has one.

The kinds are found in the source, not listed by hand: every ``record_event(order, KIND, …)``
call in the apps is parsed and its kind evaluated in its module, so a new writer with no
sentence fails here. Then each kind is described with payloads of every shape it may carry,
and the sentence must not contain a code (a kind, a snake_case status, ``synced``).
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from orders import services, timeline
from orders.models import Image, Order, OrderEvent
from pmr.models import OrderDelivery, OutboxEntry
from tests.timeline_checks import CODE

ROOT = Path(__file__).resolve().parents[2]


def _apps() -> list[Path]:
    return sorted(p.parent for p in ROOT.glob("*/apps.py") if p.parent.name not in {"tests"})


def written_kinds() -> dict[str, list[str]]:
    """kind → where it is written, for every ``record_event`` call in the apps' code."""
    found: dict[str, list[str]] = {}
    for app in _apps():
        for path in app.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), str(path))
            module: Any = None
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name != "record_event":
                    continue
                expr = next((k.value for k in node.keywords if k.arg == "kind"), None)
                if expr is None and len(node.args) > 1:
                    expr = node.args[1]
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                assert expr is not None, f"{where}: record_event without a kind"
                # A literal at a call site is a kind the registry does not name: a typo there
                # would write a kind no sentence is registered for, silently.
                assert not isinstance(expr, ast.Constant), (
                    f"{where}: the kind {expr.value!r} is a literal; use the constant of the "
                    "timeline module that registers it"
                )
                dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                module = module or importlib.import_module(dotted)
                try:
                    kind = eval(ast.unparse(expr), vars(module))
                except Exception as exc:  # a kind made at run time cannot be checked
                    pytest.fail(
                        f"{where}: the kind {ast.unparse(expr)} is not a constant "
                        f"of its module ({exc}); write it as one"
                    )
                found.setdefault(kind, []).append(where)
    return found


def test_the_scan_finds_the_kinds_of_every_app():
    kinds = written_kinds()
    # A sanity check of the scan itself: kinds of orders, ai_processing and pmr are found.
    assert {"order.created", "image.status_changed", "order.ai_completed"} <= set(kinds)
    assert {"pmr.delivered", "pmr.write_failed", "pmr.status_changed"} <= set(kinds)


#: Code that makes a timeline row itself (not the model's ``class OrderEvent(`` line).
WRITES_A_ROW = re.compile(r"(?<!class )OrderEvent\(|OrderEvent\.objects\.(?:create|bulk_create)\(")


def test_only_record_event_writes_timeline_rows():
    """Every entry goes through ``services.record_event`` (the kinds above are all of them)."""
    writers = []
    for app in _apps():
        for path in app.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            for found in WRITES_A_ROW.findall(text):
                writers.append(f"{path.relative_to(ROOT)}: {found}")
    assert writers == ["orders/services.py: OrderEvent.objects.create("]


def test_every_kind_written_anywhere_has_a_sentence():
    registered = timeline.registered_kinds()
    missing = {k: where for k, where in written_kinds().items() if k not in registered}
    assert not missing, f"timeline kinds without a sentence (register them): {missing}"


def _payloads(kind: str, image_id: int, user_id: int) -> list[dict]:
    """Every shape a payload of ``kind`` takes, and some it should never take: statuses (of
    orders, images and the PMR) for the status changes, ids and names for the rest."""
    common = {
        "image": image_id,
        "filename": "IMG_0001.jpg",
        "reason": "too dark",
        "note": "sent by USB stick",
        "entry": 1,
        "error": "The event is closed [422 event_closed]",
        "source": "webhook",
        "fields": ["customer_name", "customer_email", "notes", "not_a_field"],
    }
    shapes = [{}, {"image": "not-an-id", "to": ["odd"], "fields": "x"}, common]
    if not kind.endswith("status_changed"):
        return [
            *shapes,
            *({**common, "kind": outbox_kind} for outbox_kind in OutboxEntry.Kind.values),
            {**common, "images": 3, "from": None, "to": user_id},
            {**common, "images": {"processed": 2, "needs_review": 1}, "ai_cost": "0.1"},
            {**common, "from": "wedding", "to": "school-portraits"},
        ]
    for status in Order.Status.values:
        shapes.append({**common, "from": "draft", "to": status})
    for status in Image.Status.values:
        shapes.append({**common, "from": "uploaded", "to": status})
    for status in OrderDelivery.PmrStatus.values:
        shapes.append({**common, "from": "", "to": status})
    return shapes


@pytest.mark.django_db
def test_no_kind_reads_as_a_code_whatever_its_payload(users, make_order):
    order = make_order(users["User"])
    image = Image.objects.create(order=order, original="x.jpg", original_filename="IMG_0001.jpg")
    kinds = set(written_kinds()) | timeline.registered_kinds()
    for kind in sorted(kinds):
        for payload in _payloads(kind, image.pk, users["Manager"].pk):
            entry = OrderEvent(order=order, seq=1, kind=kind, payload=payload)
            entry.created_at = order.created_at
            (described,) = timeline.describe([entry])
            text = described.text
            assert text, (kind, payload)
            assert text != kind
            assert not CODE.search(text), f"{kind} with {payload} reads {text!r}"
            assert "[422" not in text  # the PMR's error code is for the logs
            # Reads well with few facts: no Python value, no capital in mid-sentence, no
            # holes where a fact was missing.
            assert not re.search(r"\b(None|True|False)\b", text), f"{kind}: {text!r}"
            assert not re.search(r".\b(An|A) (image|print)\b", text), f"{kind}: {text!r}"
            for hole in ("  ", "()", " :"):
                assert hole not in text, f"{kind}: {text!r}"
            # A sentence opens with a capital, unless with the file name (its case is kept).
            if not text.startswith("IMG_0001.jpg"):
                assert text[0].isupper() or text[0].isdigit(), f"{kind}: {text!r}"


def test_an_unknown_kind_still_reads_as_a_sentence():
    assert timeline.sentence("pmr.brand_new_thing", {}) == "PMR: brand new thing"
    assert timeline.sentence("order.archived", {"x": 1}) == "Order: archived"
    assert timeline.sentence("weird", None) == "Weird changed"
    assert not CODE.search(timeline.sentence("pmr.brand_new_thing", {}))


@pytest.mark.django_db
def test_sentences_name_images_users_and_presets(users, make_order):
    from ai_processing.models import ProcessingPreset

    order = make_order(users["User"])
    image = Image.objects.create(order=order, original="x.jpg", original_filename="IMG_0042.jpg")
    preset = ProcessingPreset.objects.create(name="Beach weddings", slug="beach-weddings")
    manager = users["Manager"]
    cases = [
        (
            "image.status_changed",
            {"image": image.pk, "to": "synced", "reason": "uploaded to the PMR"},
            "IMG_0042.jpg delivered to the PMR",
        ),
        (
            "image.status_changed",
            {"image": image.pk, "to": "rejected", "reason": "Not an image"},
            "IMG_0042.jpg rejected: Not an image",
        ),
        (
            "image.status_changed",
            {"image": image.pk, "to": "needs_review", "reason": "blurred"},
            "IMG_0042.jpg needs review: blurred",
        ),
        (
            "images.status_changed",
            {"images": [1, 2, 3], "count": 3, "to": "synced", "reason": "uploaded to the PMR"},
            "3 images delivered to the PMR",
        ),
        (
            "images.status_changed",
            {"images": [1, 2], "to": "failed", "reason": "the disk is gone"},
            "2 images failed: the disk is gone",
        ),
        ("pmr.delivered", {"images": 12}, "Sent to the PMR: 12 images delivered"),
        (
            "pmr.write_failed",
            {
                "kind": "image.put",
                "image": image.pk,
                "error": "The event is closed [422 event_closed]",
            },
            "The PMR refused image IMG_0042.jpg: The event is closed",
        ),
        (
            "pmr.write_failed",
            {"kind": "order.put", "error": "Bad customer [400 invalid]"},
            "The PMR refused the order's details: Bad customer",
        ),
        (
            "pmr.write_skipped",
            {"kind": "image.put", "image": image.pk, "reason": "sent by mail"},
            "Sending image IMG_0042.jpg to the PMR was skipped: sent by mail",
        ),
        ("pmr.uploaded_by_hand", {"note": ""}, "Marked as uploaded to the PMR by hand"),
        (
            "pmr.status_changed",
            {"from": "completed", "to": "on_hold", "reason": "unpaid"},
            "The PMR set the order to On hold: unpaid",
        ),
        ("order.assigned", {"from": None, "to": manager.pk}, f"Assigned to {manager}"),
        ("order.assigned", {"from": manager.pk, "to": None}, "No longer assigned to anyone"),
        (
            "order.preset_changed",
            {"from": None, "to": preset.slug},
            "Processing preset changed to Beach weddings",
        ),
        (
            "order.ai_completed",
            {"images": {"processed": 11, "needs_review": 0, "rejected": 1}},
            "AI processing finished: 11 processed, 1 rejected",
        ),
        (
            "order.updated",
            {"fields": ["customer_email", "notes"]},
            "Details edited: customer email, notes",
        ),
    ]
    for kind, payload, expected in cases:
        entry = OrderEvent(order=order, seq=1, kind=kind, payload=payload)
        entry.created_at = order.created_at
        assert timeline.describe([entry])[0].text == expected


@pytest.mark.django_db
def test_names_cost_one_query_per_kind_of_name(users, make_order, django_assert_num_queries):
    order = make_order(users["User"])
    images = [
        Image.objects.create(order=order, original=f"{i}.jpg", original_filename=f"IMG_{i}.jpg")
        for i in range(30)
    ]
    entries = []
    for image in images:
        entries.append(
            OrderEvent(
                order=order,
                seq=1,
                kind="image.status_changed",
                payload={"image": image.pk, "to": "ingested"},
            )
        )
        entries.append(
            OrderEvent(
                order=order,
                seq=1,
                kind="pmr.write_failed",
                payload={"image": image.pk, "kind": "image.put", "error": "x"},
            )
        )
        entries.append(
            OrderEvent(
                order=order, seq=1, kind="order.assigned", payload={"to": users["Manager"].pk}
            )
        )
    for entry in entries:
        entry.created_at = order.created_at
    with django_assert_num_queries(2):  # images, users
        timeline.describe(entries)
    assert entries[0].text == "IMG_0.jpg ingested"


@pytest.mark.django_db
def test_pages_api_and_dashboard_show_sentences_not_codes(client, users, make_order):
    """The order page, the dashboard, the timeline API and its snapshot: one reader."""
    user = users["User"]
    order = make_order(user)
    image = Image.objects.create(order=order, original="x.jpg", original_filename="IMG_7.jpg")
    services.record_event(order, "pmr.delivered", {"images": 1})
    services.record_event(
        order, "pmr.write_failed", {"kind": "image.put", "image": image.pk, "error": "No [409 x]"}
    )
    services.record_event(order, "image.status_changed", {"image": image.pk, "to": "synced"})
    client.force_login(user)
    expected = [
        "IMG_7.jpg delivered to the PMR",
        "The PMR refused image IMG_7.jpg: No",
        "Sent to the PMR: 1 image delivered",
    ]
    page = client.get(f"/orders/{order.order_ref}/").content.decode()
    dashboard = client.get("/").content.decode()
    api = client.get(f"/api/v1/orders/{order.order_ref}/timeline?after=0").json()
    snapshot = client.get("/api/v1/dashboard/").json()
    for text in expected:
        assert text in page
        assert text in dashboard
        assert text in [e["text"] for e in api["events"]]
        assert text in [e["text"] for e in snapshot["activity"]]
    for html in (page, dashboard):
        for code in ("pmr.delivered", "pmr.write_failed", "ynced to PMR", "synced to pmr"):
            assert code not in html


def test_orders_modules_of_the_timeline_and_live_state_import_no_app_above_them():
    """orders ← ai_processing ← pmr: the registry and the live state hook import neither."""
    for name in ("timeline.py", "live.py", "selectors.py"):
        tree = ast.parse((ROOT / "orders" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] not in {"pmr", "ai_processing", "analytics"}, name


def test_a_file_name_keeps_its_case_and_a_sentence_without_one_reads_whole():
    kind = OrderEvent.Kind
    assert timeline.sentence(
        kind.IMAGE_STATUS, {"filename": "astronaut.png", "to": "ingested"}
    ) == ("astronaut.png ingested")
    assert timeline.sentence(kind.IMAGE_CROP, {"label": "4×6"}) == (
        "4×6 crop of an image reset to automatic"
    )
    assert timeline.sentence(kind.IMAGE_CROP, {}) == "A print crop of an image reset to automatic"
    assert timeline.sentence(kind.ORDER_STATUS, {}) == "Status changed"
    assert timeline.sentence(kind.ORDER_STATUS, {"to": "pending"}) == "Status: Pending"
