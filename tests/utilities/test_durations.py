"""Step durations counted in Redis by whichever process finishes the step (utilities/durations)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import redis

from utilities import durations

DOWN_URL = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def clean(settings) -> Iterator[None]:
    url = settings.REDIS_URL
    client = redis.Redis.from_url(url)
    client.delete(*(durations.key(step) for step in durations.STEPS))
    yield
    client.delete(*(durations.key(step) for step in durations.STEPS))


def test_observations_add_up_per_label_set_into_cumulative_buckets():
    for seconds in (0.05, 0.06, 2, 1000):
        durations.observe("ai", seconds, outcome="processed")
    durations.observe("ai", 3, outcome="needs_review")

    by_outcome = {h.labels["outcome"]: h for h in durations.read("ai")}
    processed, review = by_outcome["processed"], by_outcome["needs_review"]
    assert processed.labels == {"outcome": "processed"}
    bounds = dict(processed.buckets)
    assert bounds[0.05] == 1  # an upper bound includes its own value
    assert bounds[0.1] == 2
    assert bounds[2.5] == 3
    assert bounds[600] == 3
    assert bounds[math.inf] == processed.count == 4
    assert processed.sum == pytest.approx(1002.11)
    assert review.count == 1
    assert [count for _bound, count in processed.buckets] == sorted(
        count for _bound, count in processed.buckets
    )


def test_several_labels_are_kept_apart():
    durations.observe("pmr_call", 0.2, kind="image.put", outcome="ok")
    durations.observe("pmr_call", 0.2, outcome="ok", kind="order.put")
    durations.observe("pmr_call", 0.3, kind="image.put", outcome="ok")
    counts = {(h.labels["kind"], h.labels["outcome"]): h.count for h in durations.read("pmr_call")}
    assert counts == {("image.put", "ok"): 2, ("order.put", "ok"): 1}


def test_many_observations_at_once_count_as_one_by_one():
    durations.observe_many(
        "pmr_call",
        [
            (0.2, {"kind": "image.put", "outcome": "ok"}),
            (0.3, {"outcome": "ok", "kind": "image.put"}),
            (7, {"kind": "image.put", "outcome": "retryable"}),
        ],
    )
    durations.observe_many("pmr_call", [])
    by_labels = {(h.labels["kind"], h.labels["outcome"]): h for h in durations.read("pmr_call")}
    assert {labels: h.count for labels, h in by_labels.items()} == {
        ("image.put", "ok"): 2,
        ("image.put", "retryable"): 1,
    }
    assert by_labels[("image.put", "ok")].sum == pytest.approx(0.5)
    assert dict(by_labels[("image.put", "ok")].buckets)[0.25] == 1


def test_an_unknown_step_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown step"):
        durations.observe("upload", 1.0, outcome="ok")
    with pytest.raises(ValueError, match="unknown step"):
        durations.observe_many("upload", [])


def test_redis_away_costs_the_observation_only(settings, caplog):
    settings.REDIS_URL = DOWN_URL
    durations.observe("ingest", 1.0, outcome="ingested")  # no exception: the work goes on
    assert "Could not record how long a step took (ingest)" in caplog.text
