"""``GET /metrics``: closed to the public (METRICS_TOKEN or staff), and the product's numbers
read from the real Redis and PostgreSQL when Prometheus scrapes: Celery queue lengths, the PMR
outbox, circuit breakers and the step durations the workers record."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import pytest
import redis
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accounts.roles import ADMIN, MANAGER, USER, VIEWER
from ai_processing import services as ai_services
from events.models import Event
from orders import intake
from orders import services as order_services
from orders.models import Image
from pmr import drain
from pmr.models import OutboxEntry
from rkh_site.celery import app as celery_app
from rkh_site.metrics import queue_names
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
)
from tests.conftest import make_user
from tests.orders.intake import photos
from utilities import durations
from utilities.breakers import AI_PREFIX, PMR_NAME, PMR_PREFIX, pmr_breaker

pytestmark = pytest.mark.django_db
TOKEN = "scrape-token-for-the-tests-0123456789abcdef"
DOWN_URL = "redis://127.0.0.1:1/0"


def _clean_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    keys = [
        *client.scan_iter(f"{durations.KEY_PREFIX}:*"),
        *client.scan_iter(f"{AI_PREFIX}*"),
        *client.scan_iter(f"{PMR_PREFIX}*"),
    ]
    if keys:
        client.delete(*keys)


def _purge_queues(broker_url: str) -> None:
    with celery_app.connection_for_write(url=broker_url) as conn:
        for queue in queue_names():
            conn.default_channel.queue_purge(queue)


@pytest.fixture(autouse=True)
def clean(settings) -> Iterator[None]:
    """No durations, circuits or queued tasks of earlier tests; none left for later ones."""
    # Taken now: a test may point the settings at a Redis that is away.
    url, broker_url = settings.REDIS_URL, settings.CELERY_BROKER_URL
    _clean_redis(url)
    _purge_queues(broker_url)
    yield
    _clean_redis(url)
    _purge_queues(broker_url)


@pytest.fixture
def token(settings) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    """``{(sample name, sorted labels): value}`` of an authorised scrape."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# --- who may read them --------------------------------------------------------------------


def test_without_a_token_configured_only_staff_see_the_metrics(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", **bearer("anything")).status_code == 404
    assert client.get("/metrics", **bearer("")).status_code == 404
    for role in (USER, VIEWER):
        client.force_login(make_user(role))
        assert client.get("/metrics").status_code == 404
    for role in (ADMIN, MANAGER):  # staff
        client.force_login(make_user(role))
        assert client.get("/metrics").status_code == 200


def test_with_a_token_the_scraper_needs_it(client, token):
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    assert TOKEN not in anonymous.content.decode()

    for wrong in (TOKEN[:-1], TOKEN + "x", TOKEN.upper(), f"Token {TOKEN}"):
        answer = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {wrong}")
        assert answer.status_code == 403, wrong
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 403  # no scheme

    answer = client.get("/metrics", **bearer(TOKEN))
    assert answer.status_code == 200
    assert "rkh_pmr_outbox_pending" in answer.content.decode()
    assert "no-cache" in answer["Cache-Control"] or "max-age=0" in answer["Cache-Control"]


def test_with_a_token_signed_in_people_who_are_not_staff_are_refused(client, token):
    client.force_login(make_user(USER))
    assert client.get("/metrics").status_code == 403
    client.force_login(make_user(MANAGER))
    assert client.get("/metrics").status_code == 200


def test_only_get(client, token):
    assert client.post("/metrics", **bearer(TOKEN)).status_code == 405


# --- what they say ------------------------------------------------------------------------


@pytest.fixture
def order():
    manager = make_user(MANAGER)
    event = Event.objects.create(event_id="EVT-METRICS", name="Metrics")
    return order_services.create_order(actor=manager, event=event, customer_name="Metrics")


def _row(order, state: str, n: int, age_seconds: float = 0) -> OutboxEntry:
    row = OutboxEntry.objects.create(
        order=order,
        kind=OutboxEntry.Kind.ORDER_STATUS,
        payload={"status": "processing"},
        idempotency_key=f"{order.order_ref}:metrics:{n}",
        state=state,
    )
    if age_seconds:  # created_at is auto_now_add: set it afterwards
        OutboxEntry.objects.filter(pk=row.pk).update(
            created_at=timezone.now() - dt.timedelta(seconds=age_seconds)
        )
    return row


def test_the_pmr_outbox_backlog_and_its_oldest_row(client, token, order):
    samples = scrape(client, **bearer(TOKEN))
    assert samples[("rkh_pmr_outbox_pending", ())] == 0
    assert samples[("rkh_pmr_outbox_failed", ())] == 0
    assert samples[("rkh_pmr_outbox_oldest_pending_age_seconds", ())] == 0

    _row(order, OutboxEntry.State.PENDING, 1, age_seconds=600)
    _row(order, OutboxEntry.State.PENDING, 2, age_seconds=30)
    _row(order, OutboxEntry.State.DONE, 3, age_seconds=9000)
    _row(order, OutboxEntry.State.FAILED, 4, age_seconds=7000)
    _row(order, OutboxEntry.State.SKIPPED, 5, age_seconds=8000)

    samples = scrape(client, **bearer(TOKEN))
    assert samples[("rkh_pmr_outbox_pending", ())] == 2
    assert samples[("rkh_pmr_outbox_failed", ())] == 1
    assert 600 <= samples[("rkh_pmr_outbox_oldest_pending_age_seconds", ())] < 660


def test_celery_queue_lengths(client, token):
    from orders.tasks import ingest_image
    from pmr.tasks import drain_order

    for image_id in (1, 2, 3):
        ingest_image.delay(image_id)  # no worker here: they wait in the ingest queue
    drain_order.delay(1)

    samples = scrape(client, **bearer(TOKEN))
    assert samples[("rkh_celery_queue_length", (("queue", "ingest"),))] == 3
    assert samples[("rkh_celery_queue_length", (("queue", "pmr"),))] == 1
    assert samples[("rkh_celery_queue_length", (("queue", "ai"),))] == 0
    assert samples[("rkh_celery_queue_length", (("queue", "default"),))] == 0
    assert samples[("rkh_metrics_source_up", (("source", "redis"),))] == 1


def test_circuit_breaker_states(client, token, settings):
    breaker = pmr_breaker()
    for _ in range(settings.PMR_BREAKER_FAILURES):
        breaker.record_failure(PMR_NAME)

    samples = scrape(client, **bearer(TOKEN))

    def state(service: str, name: str) -> float:
        return samples[("rkh_circuit_breaker_state", (("service", service), ("state", name)))]

    assert state("pmr", "open") == 1
    assert state("pmr", "closed") == 0
    for provider in settings.AI_PROVIDERS:
        assert state(provider, "closed") == 1
        assert state(provider, "open") == 0

    breaker.record_success(PMR_NAME)
    samples = scrape(client, **bearer(TOKEN))
    assert state("pmr", "closed") == 1
    assert state("pmr", "open") == 0


def test_step_durations_recorded_by_any_process_are_histograms(client, token):
    durations.observe("ingest", 0.3, outcome="ingested")
    durations.observe("ingest", 0.4, outcome="ingested")
    durations.observe("ingest", 700, outcome="ingested")  # beyond the last bucket
    durations.observe("ingest", 0.01, outcome="rejected")
    durations.observe("pmr_call", 0.2, kind="image.put", outcome="ok")

    samples = scrape(client, **bearer(TOKEN))

    def ingested(name: str, **labels: str) -> float:
        key = tuple(sorted({"outcome": "ingested", **labels}.items()))
        return samples[(f"rkh_ingest_duration_seconds_{name}", key)]

    assert ingested("count") == 3
    assert ingested("sum") == pytest.approx(700.7)
    assert ingested("bucket", le="0.25") == 0
    assert ingested("bucket", le="0.5") == 2
    assert ingested("bucket", le="600.0") == 2
    assert ingested("bucket", le="+Inf") == 3
    rejected = (("outcome", "rejected"),)
    assert samples[("rkh_ingest_duration_seconds_count", rejected)] == 1
    pmr = (("kind", "image.put"), ("outcome", "ok"))
    assert samples[("rkh_pmr_call_duration_seconds_count", pmr)] == 1


def test_an_ingest_by_the_service_is_measured(client, token, order, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    image = intake.add_image(
        order, source=io.BytesIO(photos.jpeg()), filename="IMG_0001.jpg", actor=order.created_by
    )
    assert intake.ingest_image(image.pk).status == Image.Status.INGESTED
    intake.ingest_image(image.pk)  # a second delivery finds it done: not an ingest

    samples = scrape(client, **bearer(TOKEN))
    key = (("outcome", "ingested"),)
    assert samples[("rkh_ingest_duration_seconds_count", key)] == 1
    assert 0 < samples[("rkh_ingest_duration_seconds_sum", key)] < 60


def test_the_ai_step_by_the_service_is_measured(client, token, ingested_order):
    image = ingested_order("colour-correct-only").images.get()
    assert ai_services.process_image(image.pk).status == Image.Status.PROCESSED
    ai_services.process_image(image.pk)  # done already: not counted again

    samples = scrape(client, **bearer(TOKEN))
    assert samples[("rkh_ai_duration_seconds_count", (("outcome", "processed"),))] == 1
    assert samples[("rkh_ingest_duration_seconds_count", (("outcome", "ingested"),))] == 1


def test_a_pmr_call_by_the_drain_is_measured(client, token, order, settings):
    settings.PMR_BASE_URL = "http://127.0.0.1:9"  # nothing listens: a retryable failure
    settings.PMR_CLIENT_ATTEMPTS = 1
    _row(order, OutboxEntry.State.PENDING, 1)

    drain.drain_order(order.pk)

    samples = scrape(client, **bearer(TOKEN))
    key = (("kind", "order.status"), ("outcome", "retryable"))
    assert samples[("rkh_pmr_call_duration_seconds_count", key)] == 1


def test_with_redis_away_the_database_s_numbers_are_still_answered(client, token, settings, order):
    _row(order, OutboxEntry.State.PENDING, 1)
    settings.CELERY_BROKER_URL = DOWN_URL
    settings.REDIS_URL = DOWN_URL

    samples = scrape(client, **bearer(TOKEN))

    assert samples[("rkh_metrics_source_up", (("source", "redis"),))] == 0
    assert samples[("rkh_metrics_source_up", (("source", "database"),))] == 1
    assert samples[("rkh_pmr_outbox_pending", ())] == 1
    assert not any(name == "rkh_celery_queue_length" for name, _labels in samples)
