"""The CSV export: one table (day rows, a total row, preset rows) holding the JSON's numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from analytics.selectors import DAY_COLUMNS

from .world import EXPECTED_DAYS, RANGE

pytestmark = pytest.mark.django_db


def get_csv(client, user, **params) -> tuple[object, list[dict[str, str]]]:
    client.force_login(user)
    response = client.get("/analytics/export.csv", params)
    assert response.status_code == 200, response.content
    text = response.content.decode("utf-8")
    return response, list(csv.DictReader(io.StringIO(text)))


def same(csv_value: str, json_value: object) -> bool:
    """A CSV cell holds the JSON value: empty for null, the same number otherwise."""
    if json_value is None:
        return csv_value == ""
    return Decimal(csv_value) == Decimal(str(json_value))


def test_csv_has_the_json_numbers_row_for_row(client, world):
    client.force_login(world.manager)
    data = client.get("/analytics/data.json", RANGE).json()
    _, rows = get_csv(client, world.manager, **RANGE)

    assert list(rows[0]) == ["row", "date", "preset", *DAY_COLUMNS]
    day_rows = [r for r in rows if r["row"] == "day"]
    assert [r["date"] for r in day_rows] == [d["date"] for d in data["days"]]
    for row, day in zip(day_rows, data["days"], strict=True):
        for column in DAY_COLUMNS:
            assert same(row[column], day[column]), (day["date"], column, row[column], day[column])

    (total,) = [r for r in rows if r["row"] == "total"]
    assert total["date"] == "2025-03-10/2025-03-12"
    for column in DAY_COLUMNS:
        assert same(total[column], data["totals"][column]), column

    presets = [r for r in rows if r["row"] == "preset"]
    assert [r["preset"] for r in presets] == [p["preset"] for p in data["presets"]]
    for row, preset in zip(presets, data["presets"], strict=True):
        assert int(row["images"]) == preset["images"]
        assert same(row["ai_cost_usd"], preset["ai_cost_usd"])
        assert row["orders"] == ""  # figures that do not apply to a preset stay empty


def test_csv_values_are_the_known_numbers(client, world):
    _, rows = get_csv(client, world.manager, **RANGE)
    first = rows[0]
    assert first["row"] == "day"
    assert first["date"] == "2025-03-10"
    assert first["orders"] == str(EXPECTED_DAYS[0]["orders"])
    assert first["ai_cost_usd"] == "0.350000"  # money keeps its six decimals in the file
    assert first["fallback_share"] == "0.5"
    assert first["completion_median_s"] == ""
    assert first["pmr_backlog"] == "0"  # nothing waits for the PMR: zero, not empty
    assert rows[1]["completion_p90_s"] == "2220.0"


def test_csv_filename_names_the_range_and_event(client, world):
    response, _ = get_csv(client, world.manager, **RANGE)
    assert response["Content-Disposition"] == (
        'attachment; filename="rkh-analytics_2025-03-10_2025-03-12.csv"'
    )
    response, rows = get_csv(client, world.manager, event=world.event_b.event_id, **RANGE)
    assert response["Content-Disposition"] == (
        'attachment; filename="rkh-analytics_2025-03-10_2025-03-12_EVT-B-ANALYTICS.csv"'
    )
    assert next(r for r in rows if r["row"] == "total")["orders"] == "2"


def test_csv_keeps_a_formula_like_preset_name_as_text(client, world):
    from ai_processing.models import ProcessingPreset

    ProcessingPreset.objects.filter(name="School").update(name='=HYPERLINK("http://x","y")')
    _, rows = get_csv(client, world.manager, **RANGE)
    names = [r["preset"] for r in rows if r["row"] == "preset"]
    assert '\'=HYPERLINK("http://x","y")' in names
    assert not any(name.startswith("=") for name in names)


def test_csv_and_json_refuse_bad_filters_with_400(client, users):
    client.force_login(users["Manager"])
    for url in ("/analytics/export.csv", "/analytics/data.json"):
        response = client.get(url, {"start": "2025-03-12", "end": "2025-03-10"})
        assert response.status_code == 400
        body = response.json()
        assert body["error"]["code"] == "invalid_filters"
        assert "end" in body["error"]["details"]["fields"]
