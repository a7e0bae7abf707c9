"""The dashboard page: its filters, totals, chart slots, scripts and the PMR note."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from analytics.views import duration_text

from .world import RANGE

pytestmark = pytest.mark.django_db

PAGE = "/analytics/"
CHARTS = (
    "chart-volume",
    "chart-completion",
    "chart-cost-day",
    "chart-cost-preset",
    "chart-quality",
)


def page(client, user, **params) -> tuple[int, str]:
    client.force_login(user)
    response = client.get(PAGE, params)
    return response.status_code, response.content.decode()


def test_page_has_every_chart_totals_and_export_links(client, world):
    status, html = page(client, world.manager, **RANGE)
    assert status == 200
    for chart in CHARTS:
        assert f'<canvas id="{chart}"' in html
    assert 'data-testid="total-orders">6<' in html
    assert 'data-testid="total-images">7<' in html
    assert 'data-testid="total-median">30 min<' in html
    assert 'data-testid="total-p90">1 h 10 min<' in html
    assert 'data-testid="total-cost">$0.90<' in html
    assert 'data-testid="total-fallback-review">57 %<' in html  # 4 of 7
    query = "start=2025-03-10&amp;end=2025-03-12"
    assert f'href="/analytics/export.csv?{query}"' in html
    assert f'href="/analytics/data.json?{query}"' in html


def test_page_embeds_the_same_numbers_as_the_json(client, world):
    _, html = page(client, world.manager, **RANGE)
    match = re.search(r'<script id="analytics-data" type="application/json">(.*?)</script>', html)
    assert match is not None
    embedded = json.loads(match.group(1))
    client.force_login(world.manager)
    assert embedded == client.get("/analytics/data.json", RANGE).json()


def test_page_has_the_pmr_chart(client, world):
    _, html = page(client, world.manager, **RANGE)
    assert 'id="chart-pmr"' in html


def test_scripts_come_from_static_only(client, users):
    _, html = page(client, users["Viewer"])
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    assert "/static/vendor/chartjs/chart.umd.min.js" in sources
    assert "/static/js/analytics.js" in sources
    assert all(src.startswith("/static/") for src in sources), sources
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from another host


def test_default_filters_are_shown_in_the_form(client, users):
    _, html = page(client, users["Viewer"])
    today = timezone.localdate()
    assert f'name="end" value="{today.isoformat()}"' in html
    start = today - dt.timedelta(days=29)
    assert f'name="start" value="{start.isoformat()}"' in html


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"start": "2025-03-12", "end": "2025-03-10"}, "end", "The end date is before the start"),
        ({"start": "2024-01-01", "end": "2025-03-10"}, "start", "at most 366 days"),
        ({"event": "NO-SUCH-EVENT"}, "event", "Unknown Event ID"),
        ({"start": "yesterday"}, "start", "Enter a valid date"),
    ],
)
def test_bad_filters_are_shown_not_guessed(client, users, params, field, message):
    status, html = page(client, users["Manager"], **params)
    assert status == 400
    assert f'id="id_{field}-error"' in html
    assert message in html
    assert "<canvas" not in html
    assert 'id="analytics-data"' not in html


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (44.6, "45 s"),
        (600.0, "10 min"),
        (4200.0, "1 h 10 min"),
        (47 * 3600 + 59 * 60, "47 h 59 min"),
        (50 * 3600.0, "2 d 2 h"),
    ],
)
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text
