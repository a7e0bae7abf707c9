"""The AI endpoints of the REST API (``/api/v1/ai/…``) on real PostgreSQL and Redis.

Only the local provider is configured (``ai_settings``), so no simulator is needed.
Tasks queued on commit go to the Redis broker for real; which ones were published
is read from Celery's own ``before_task_publish`` signal (no project code is mocked).
"""

from __future__ import annotations

import io

import pytest
from celery.signals import before_task_publish
from rest_framework.test import APIClient

from orders import intake
from orders.models import Image, Order, OrderEvent
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    different_photos,
    manager_fixture,
    media_root_fixture,
    preset,
)

API = "/api/v1/ai"
pytestmark = pytest.mark.django_db

ROLES_PROCESS = [
    ("Admin", "own", 202),
    ("Manager", "own", 202),
    ("User", "own", 202),
    ("User", "assigned", 202),
    ("User", "foreign", 404),
    ("Viewer", "own", 403),
    ("norole", "own", 403),
    ("anonymous", "own", 401),
]


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The API's one error shape; returns the inner ``error`` object."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"], error
    assert error["message"], error
    assert isinstance(error["details"], dict), error
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture(autouse=True)
def _settings(ai_settings):
    return ai_settings


@pytest.fixture
def client_as(users):
    def _as(who: str) -> APIClient:
        client = APIClient()
        if who != "anonymous":
            client.force_login(users[who])
        return client

    return _as


@pytest.fixture
def ready_order(users, make_order):
    """``ready_order(owner_key, n, status=..., slug=...)``: an order with ``n`` ingested
    photos, then put in ``status`` (a setup step: the last ingest moved it to processing)."""

    def _make(
        whose: str = "own",
        n: int = 1,
        *,
        status: str = Order.Status.PENDING,
        slug: str | None = "analyze-only",
        offset: int = 0,
    ) -> Order:
        creator = {"own": users["User"], "assigned": users["Manager"], "foreign": users["other"]}
        kwargs = {"assigned_to": users["User"]} if whose == "assigned" else {}
        order = make_order(creator[whose], preset=preset(slug) if slug else None, **kwargs)
        # Orders of one test share an event: distinct photos, or ingest flags duplicates.
        for i, data in enumerate(different_photos(offset + n)[offset:]):
            image = intake.add_image(
                order, source=io.BytesIO(data), filename=f"IMG_{i:04d}.jpg", actor=creator[whose]
            )
            intake.ingest_image(image.pk)
        Order.objects.filter(pk=order.pk).update(status=status)
        order.refresh_from_db()
        assert order.images.filter(status=Image.Status.INGESTED).count() == n
        return order

    return _make


@pytest.fixture
def published():
    """Names of the Celery tasks published to the broker while the test runs."""
    names: list[tuple[str, object]] = []

    def record(sender=None, body=None, **kwargs):
        args = body[0] if isinstance(body, list | tuple) and body else None
        names.append((sender, list(args) if args is not None else None))

    before_task_publish.connect(record, weak=False)
    yield names
    before_task_publish.disconnect(record)


def post(client, name: str, body) -> object:
    return client.post(f"{API}/{name}", body, format="json")


# --- process ----------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "whose", "expected"), ROLES_PROCESS)
def test_process_role_matrix(
    who, whose, expected, client_as, ready_order, django_capture_on_commit_callbacks
):
    order = ready_order(whose)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client_as(who), "process", {"order": order.order_ref})
    order.refresh_from_db()
    if expected == 202:
        assert response.status_code == 202, response.content
        assert response.json() == {"order": order.order_ref, "status": "processing", "queued": 1}
        assert order.status == Order.Status.PROCESSING
    else:
        assert_error(response, expected)
        assert order.status == Order.Status.PENDING


def test_process_moves_a_pending_order_and_queues_the_pipeline(
    client_as, ready_order, published, django_capture_on_commit_callbacks
):
    order = ready_order("own", n=2)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client_as("User"), "process", {"order": order.order_ref})
    assert response.status_code == 202, response.content
    assert response.json()["queued"] == 2
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    assert callbacks  # the status signal's on-commit hook, run without error
    assert ("ai_processing.tasks.process_order", [order.pk]) in published
    moves = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.ORDER_STATUS)
    assert moves.order_by("-seq").first().payload["to"] == "processing"


def test_process_failed_order_goes_back_to_processing(
    client_as, ready_order, published, django_capture_on_commit_callbacks
):
    order = ready_order("own", status=Order.Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client_as("Manager"), "process", {"order": order.order_ref})
    assert response.status_code == 202, response.content
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    assert ("ai_processing.tasks.process_order", [order.pk]) in published


def test_process_an_order_already_processing_queues_the_given_images(
    client_as, ready_order, published, django_capture_on_commit_callbacks
):
    order = ready_order("own", n=2, status=Order.Status.PROCESSING)
    first = order.images.order_by("pk").first()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client_as("User"), "process", {"order": order.order_ref, "images": [first.pk]}
        )
    assert response.status_code == 202, response.content
    assert response.json()["queued"] == 1
    assert [p for p in published if p[0] == "ai_processing.tasks.process_image"] == [
        ("ai_processing.tasks.process_image", [first.pk])
    ]


def test_process_an_order_already_processing_queues_every_waiting_image(
    client_as, ready_order, published, django_capture_on_commit_callbacks
):
    order = ready_order("own", n=2, status=Order.Status.PROCESSING)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client_as("Admin"), "process", {"order": order.order_ref})
    assert response.status_code == 202, response.content
    assert response.json()["queued"] == 2
    queued = sorted(p[1][0] for p in published if p[0] == "ai_processing.tasks.process_image")
    assert queued == sorted(order.images.values_list("pk", flat=True))


def test_preset_is_set_before_processing_starts(
    client_as, ready_order, django_capture_on_commit_callbacks
):
    order = ready_order("own", slug=None)
    target = preset("colour-correct-only")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client_as("User"), "process", {"order": order.order_ref, "preset": target.slug}
        )
    assert response.status_code == 202, response.content
    order.refresh_from_db()
    assert order.preset_id == target.pk
    event = OrderEvent.objects.get(order=order, kind="order.preset_changed")
    assert event.payload == {"from": None, "to": target.slug}


def test_preset_change_after_processing_started_is_409(client_as, ready_order):
    order = ready_order("own", status=Order.Status.PROCESSING)
    response = post(
        client_as("Manager"),
        "process",
        {"order": order.order_ref, "preset": "colour-correct-only"},
    )
    assert_error(response, 409, "conflict")
    order.refresh_from_db()
    assert order.preset.slug == "analyze-only"


def test_same_preset_after_start_is_no_change(
    client_as, ready_order, django_capture_on_commit_callbacks
):
    order = ready_order("own", status=Order.Status.PROCESSING)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client_as("Manager"), "process", {"order": order.order_ref, "preset": "analyze-only"}
        )
    assert response.status_code == 202, response.content


def test_process_closed_order_is_409(client_as, ready_order):
    order = ready_order("own", status=Order.Status.COMPLETED)
    assert_error(post(client_as("Admin"), "process", {"order": order.order_ref}), 409, "conflict")


def test_process_with_nothing_waiting_is_409(client_as, ready_order):
    order = ready_order("own")
    Image.objects.filter(order=order).update(status=Image.Status.PROCESSED)
    assert_error(post(client_as("Admin"), "process", {"order": order.order_ref}), 409, "conflict")


def test_process_unknown_order_and_images_are_404(client_as, ready_order):
    client = client_as("Manager")
    assert_error(post(client, "process", {"order": "ORD-2000-999999"}), 404, "not_found")
    order = ready_order("own")
    other = ready_order("foreign", offset=1)
    foreign_image = other.images.first().pk
    for ids in ([2**62], [foreign_image]):
        response = post(client, "process", {"order": order.order_ref, "images": ids})
        assert_error(response, 404, "not_found")
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        "ORD-1",
        {"order": ""},
        {"order": 5},
        {"order": "bad ref!"},
        {"order": "x" * 41},
        {"order": "ORD-1\x00"},
        {"order": "ORD-2025-000001", "images": []},
        {"order": "ORD-2025-000001", "images": "1"},
        {"order": "ORD-2025-000001", "images": [0]},
        {"order": "ORD-2025-000001", "images": [True]},
        {"order": "ORD-2025-000001", "images": [1.5]},
        {"order": "ORD-2025-000001", "images": [2**64]},
        {"order": "ORD-2025-000001", "images": list(range(1, 1003))},
        {"order": "ORD-2025-000001", "preset": "no-such-preset"},
        {"order": "ORD-2025-000001", "preset": 7},
        {"order": "ORD-2025-000001", "preset": None},
    ],
)
def test_process_malformed_bodies_are_400(body, client_as):
    assert_error(post(client_as("Manager"), "process", body), 400, "invalid")


def test_malformed_json_form_bodies_and_wrong_methods(client_as):
    client = client_as("Manager")
    for name in ("process", "analyze", "generate"):
        response = client.post(f"{API}/{name}", "{nope", content_type="application/json")
        assert_error(response, 400, "parse_error")
        response = client.post(f"{API}/{name}", {"order": "x"}, format="multipart")
        assert_error(response, 415, "unsupported_media_type")
        assert_error(client.get(f"{API}/{name}"), 405, "method_not_allowed")
    for name in ("models", "status"):
        assert_error(post(client, name, {}), 405, "method_not_allowed")


# --- analyze / generate -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "whose", "expected"),
    [(w, o, 200 if e == 202 else e) for w, o, e in ROLES_PROCESS],
)
def test_analyze_role_matrix(who, whose, expected, client_as, ready_order):
    image = ready_order(whose).images.get()
    response = post(client_as(who), "analyze", {"image": image.pk})
    if expected == 200:
        assert response.status_code == 200, response.content
    else:
        assert_error(response, expected)


def test_analyze_returns_local_facts_with_the_trail(client_as, ready_order):
    image = ready_order("own").images.get()
    response = post(client_as("User"), "analyze", {"image": image.pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["image"] == image.pk
    assert body["order"] == image.order.order_ref
    assert body["operation"] == "analyze"
    assert {"sharpness", "exposure", "noise"} <= set(body["result"]["facts"])
    assert body["result"]["model"] == "local-metrics-1"
    assert body["trail"][-1]["provider"] == "local"
    assert body["trail"][-1]["outcome"] in ("ok", "cache")
    image.refresh_from_db()
    assert image.status == Image.Status.INGESTED  # a look, not a pipeline step


@pytest.mark.parametrize(("who", "whose", "expected"), ROLES_PROCESS)
def test_generate_role_matrix(who, whose, expected, client_as, ready_order):
    image = ready_order(whose).images.get()
    response = post(client_as(who), "generate", {"image": image.pk, "prompt": "a caption"})
    # The local provider cannot caption: allowed callers reach the chain and get 503.
    assert_error(response, 503 if expected == 202 else expected)


def test_generate_with_local_only_is_503_with_the_trail(client_as, ready_order):
    image = ready_order("own").images.get()
    response = post(client_as("Manager"), "generate", {"image": image.pk})
    error = assert_error(response, 503, "no_provider")
    assert error["details"]["operation"] == "caption"
    trail = error["details"]["trail"]
    assert [step["provider"] for step in trail] == ["local"]
    assert trail[0]["outcome"] == "unsupported"


@pytest.mark.parametrize("name", ["analyze", "generate"])
def test_unknown_or_unreachable_image_is_404(name, client_as, ready_order):
    assert_error(post(client_as("Admin"), name, {"image": 2**62}), 404, "not_found")
    foreign = ready_order("foreign").images.get()
    assert_error(post(client_as("User"), name, {"image": foreign.pk}), 404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        {"image": "x"},
        {"image": 0},
        {"image": None},
        {"image": [1]},
        {"image": 2**64},
        {"image": 1, "prompt": "p" * 2001},
        {"image": 1, "prompt": 5},
        {"image": 1, "prompt": "a\x00b"},
    ],
)
@pytest.mark.parametrize("name", ["analyze", "generate"])
def test_image_operation_malformed_bodies_are_400(name, body, client_as):
    assert_error(post(client_as("Manager"), name, body), 400, "invalid")


# --- models / status --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("Admin", 200),
        ("Manager", 200),
        ("User", 200),
        ("Viewer", 200),
        ("norole", 403),
        ("anonymous", 401),
    ],
)
def test_models_role_matrix_and_body(who, expected, client_as):
    response = client_as(who).get(f"{API}/models")
    if expected != 200:
        assert_error(response, expected)
        return
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["providers"] == [
        {"position": 1, "name": "local", "model": "local-metrics-1", "available": True}
    ]
    slugs = {p["slug"]: p for p in body["presets"]}
    analyze_only = preset("analyze-only")
    assert slugs["analyze-only"] == {
        "name": analyze_only.name,
        "slug": "analyze-only",
        "operations": analyze_only.operations,
    }


def test_models_lists_remote_providers_with_their_models(client_as, settings):
    settings.AI_PROVIDERS = ["runware", "gemini", "local", "nosuch"]
    settings.RUNWARE_MODEL = "runware:test@1"
    settings.GEMINI_MODEL = "gemini-test"
    body = client_as("Viewer").get(f"{API}/models/").json()
    assert [(p["name"], p["model"], p["available"]) for p in body["providers"]] == [
        ("runware", "runware:test@1", True),
        ("gemini", "gemini-test", True),
        ("local", "local-metrics-1", True),
        ("nosuch", None, False),
    ]


def test_models_hides_inactive_presets(client_as):
    hidden = preset("colour-correct-only")
    ProcessingPreset = type(hidden)
    ProcessingPreset.objects.filter(pk=hidden.pk).update(is_active=False)
    body = client_as("User").get(f"{API}/models").json()
    assert "colour-correct-only" not in {p["slug"] for p in body["presets"]}


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("Admin", 200),
        ("Manager", 200),
        ("Viewer", 200),
        ("User", 403),
        ("norole", 403),
        ("anonymous", 401),
    ],
)
def test_status_role_matrix_and_body(who, expected, client_as):
    response = client_as(who).get(f"{API}/status")
    if expected != 200:
        assert_error(response, expected)
        return
    assert response.status_code == 200, response.content
    body = response.json()
    assert [p["provider"] for p in body["providers"]] == ["local"]
    assert body["providers"][0]["state"] in ("closed", "open", "half_open")
    assert body["queue"]["name"] == "ai"
    assert isinstance(body["queue"]["depth"], int)
    assert body["queue"]["depth"] >= 0


def test_status_reads_the_ai_queue_while_tasks_are_queued(
    client_as, ready_order, django_capture_on_commit_callbacks
):
    client = client_as("Manager")
    order = ready_order("own", n=2, status=Order.Status.PROCESSING)
    before = client.get(f"{API}/status").json()["queue"]["depth"]
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, "process", {"order": order.order_ref}).status_code == 202
    after = client.get(f"{API}/status").json()["queue"]["depth"]
    # The broker may be shared (a worker may take tasks meanwhile): a count, no exact delta.
    assert isinstance(before, int)
    assert isinstance(after, int)
    assert after >= 0
