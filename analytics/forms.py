"""The dashboard's filters: a date range (default: the last 30 days) and an optional event."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from events.models import Event

from .selectors import Filters

#: Days shown when no range is given, ending today.
DEFAULT_DAYS = 30
#: Longest range one request may ask for: every day is a row and the per-image
#: work (fallback trails, completion times) grows with it.
MAX_DAYS = 366


class AnalyticsFilterForm(forms.Form):
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    event = forms.CharField(
        label="Event ID",
        required=False,
        max_length=50,
        widget=forms.TextInput(
            attrs={"list": "analytics-events", "autocomplete": "off", "spellcheck": "false"}
        ),
    )

    def clean_event(self) -> Event | None:
        value = self.cleaned_data["event"].strip()
        if not value:
            return None
        event = Event.objects.filter(event_id=value).first()
        if event is None:  # typed by people: forgive the case, as the order form does
            event = Event.objects.filter(event_id__iexact=value).first()
        if event is None:
            raise forms.ValidationError(
                "Unknown Event ID “%(value)s”.", code="unknown_event", params={"value": value}
            )
        return event

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        end: dt.date = cleaned.get("end") or timezone.localdate()
        start: dt.date = cleaned.get("start") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            self.add_error("end", "The end date is before the start date.")
        elif (end - start).days + 1 > MAX_DAYS:
            self.add_error("start", f"Choose a range of at most {MAX_DAYS} days.")
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def filters(self) -> Filters:
        """The valid filters; call after ``is_valid()`` returned True."""
        data = self.cleaned_data
        return Filters(start=data["start"], end=data["end"], event=data.get("event"))
