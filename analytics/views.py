"""The analytics dashboard: the page, its numbers as JSON, and the same numbers as CSV.

All three read ``selectors.dashboard`` with the same filters, so what the chart
shows, what a script fetches and what a spreadsheet opens cannot disagree.
Who may look is one permission (``orders.view_analytics``, held by Admin,
Manager and Viewer in ``accounts.roles``), asked through
``utilities.access.can_view_analytics``; what is counted is the access rule's view
scope of that user (see ``selectors``).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from events.models import Event
from utilities import access
from utilities.json_views import json_error, json_login_required
from utilities.spreadsheets import safe_row

from . import selectors
from .forms import AnalyticsFilterForm

#: Events offered in the filter's suggestion list (any Event ID may be typed).
SUGGESTED_EVENTS = 50
#: Leading characters that make a spreadsheet read a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

View = Callable[..., HttpResponse]


def _require_analytics(request: HttpRequest) -> None:
    if not access.can_view_analytics(request.user):
        raise PermissionDenied("Analytics are for admins, managers and viewers.")


def analytics_page(view: View) -> View:
    """Signed-out visitors go to the sign-in page; signed in without the permission: 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _require_analytics(request)
        return view(request, *args, **kwargs)

    return wrapped


def analytics_json(view: View) -> View:
    """For scripts: a JSON 403 (never a redirect to an HTML page) when signed out or not allowed."""

    @json_login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not access.can_view_analytics(request.user):
            return json_error(
                403, "Analytics are for admins, managers and viewers.", "permission_denied"
            )
        return view(request, *args, **kwargs)

    return wrapped


# --- serialising -------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-ready: dates as ISO strings, money as numbers (six decimals survive a float)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_PREFIXES):
        return "'" + text  # a preset named "=HYPERLINK(...)" stays text in a spreadsheet
    return text


def duration_text(seconds: float | None) -> str:
    """A duration for people: "45 s", "12 min", "3 h 05 min", "2 d 4 h"; "—" for none."""
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _query(filters: selectors.Filters) -> str:
    params = {"start": filters.start.isoformat(), "end": filters.end.isoformat()}
    if filters.event is not None:
        params["event"] = filters.event.event_id
    return urlencode(params)


def csv_filename(filters: selectors.Filters) -> str:
    """``rkh-analytics_<start>_<end>[_<event>].csv`` (Event IDs are filename-safe by validation)."""
    name = f"rkh-analytics_{filters.start.isoformat()}_{filters.end.isoformat()}"
    if filters.event is not None:
        name += f"_{filters.event.event_id}"
    return name + ".csv"


def csv_rows(data: dict[str, Any]) -> list[list[str]]:
    """One table: a ``day`` row per day, a ``total`` row, then a ``preset`` row per preset.

    The first column says which kind a row is, so a spreadsheet filter or
    ``csv.DictReader`` can pick them apart; cells that do not apply are empty.
    """
    columns = selectors.DAY_COLUMNS
    rows = [["row", "date", "preset", *columns]]
    for day in data["days"]:
        rows.append(["day", _cell(day["date"]), "", *(_cell(day[c]) for c in columns)])
    span = f"{data['start'].isoformat()}/{data['end'].isoformat()}"
    rows.append(["total", span, "", *(_cell(data["totals"][c]) for c in columns)])
    for preset in data["presets"]:
        values = {"images": preset["images"], "ai_cost_usd": preset["ai_cost_usd"]}
        rows.append(
            ["preset", span, _cell(preset["preset"]), *(_cell(values.get(c)) for c in columns)]
        )
    return rows


# --- views -------------------------------------------------------------------------


def _bad_filters(form: AnalyticsFilterForm) -> JsonResponse:
    errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
    return json_error(400, "The filters are not valid.", "invalid_filters", fields=errors)


@require_GET
@analytics_page
def dashboard(request: HttpRequest) -> HttpResponse:
    form = AnalyticsFilterForm(request.GET)
    context: dict[str, Any] = {
        "recent_events": Event.objects.only("event_id", "name").order_by("-created_at")[
            :SUGGESTED_EVENTS
        ],
    }
    if not form.is_valid():
        context["form"] = form
        return render(request, "analytics/dashboard.html", context, status=400)
    filters = form.filters()
    data = selectors.dashboard(request.user, filters)
    query = _query(filters)
    context.update(
        {
            # Show the range actually used (the defaults too) in the inputs.
            "form": AnalyticsFilterForm(
                {
                    "start": filters.start,
                    "end": filters.end,
                    "event": filters.event.event_id if filters.event else "",
                }
            ),
            "data": data,
            "median_display": duration_text(data["totals"]["completion_median_s"]),
            "p90_display": duration_text(data["totals"]["completion_p90_s"]),
            "chart_data": _plain(data),
            "json_url": f"{reverse('analytics_json')}?{query}",
            "csv_url": f"{reverse('analytics_csv')}?{query}",
        }
    )
    return render(request, "analytics/dashboard.html", context)


@require_GET
@analytics_json
def dashboard_json(request: HttpRequest) -> JsonResponse:
    form = AnalyticsFilterForm(request.GET)
    if not form.is_valid():
        return _bad_filters(form)
    data = selectors.dashboard(request.user, form.filters())
    response = JsonResponse(_plain(data))
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@analytics_page
def dashboard_csv(request: HttpRequest) -> HttpResponse:
    form = AnalyticsFilterForm(request.GET)
    if not form.is_valid():
        return _bad_filters(form)
    filters = form.filters()
    data = selectors.dashboard(request.user, filters)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{csv_filename(filters)}"'
    response["Cache-Control"] = "private, no-store"
    csv.writer(response, lineterminator="\r\n").writerows(safe_row(r) for r in csv_rows(data))
    return response
