"""Forms of the order pages: the new-order form and the order list's filters."""

from __future__ import annotations

from django import forms

from ai_processing.models import ProcessingPreset
from events.models import Event

from .models import Order
from .selectors import OPEN


class NewOrderForm(forms.Form):
    event_id = forms.CharField(
        label="Event ID",
        max_length=50,
        help_text="The Event ID from the Photo Management Repository: type it or pick one.",
        widget=forms.TextInput(
            attrs={"list": "recent-events", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    customer_name = forms.CharField(label="Customer name", max_length=255)
    customer_email = forms.EmailField(label="Customer e-mail", max_length=255, required=False)
    notes = forms.CharField(
        label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    preset = forms.ModelChoiceField(
        label="Processing preset",
        queryset=ProcessingPreset.objects.filter(is_active=True),
        required=False,
        empty_label="No preset (choose later)",
    )

    def clean_event_id(self) -> Event:
        value = self.cleaned_data["event_id"].strip()
        from pmr import lookups  # here, or in the PMR (then brought over)

        event = lookups.find_event(value)
        if event is None:
            raise forms.ValidationError(
                "Unknown Event ID “%(value)s”. Check the ID in the PMR (if the PMR cannot "
                "be reached, only events already registered here can take orders).",
                code="unknown_event",
                params={"value": value},
            )
        return event

    def clean_customer_name(self) -> str:
        value = self.cleaned_data["customer_name"].strip()
        if not value:
            raise forms.ValidationError("Enter the customer's name.", code="required")
        return value


STATUS_CHOICES = [
    ("", "Any status"),
    (OPEN, "Open (not closed)"),
    *Order.Status.choices,
]


class OrderFilterForm(forms.Form):
    """The order list's filters; every field optional, bad values are shown, not applied."""

    q = forms.CharField(label="Search", required=False, max_length=100)
    status = forms.ChoiceField(label="Status", choices=STATUS_CHOICES, required=False)
    event = forms.CharField(label="Event ID", required=False, max_length=50)
    customer = forms.CharField(label="Customer", required=False, max_length=255)
    created_from = forms.DateField(
        label="Created from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        label="Created to", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    FILTER_FIELDS = ("q", "status", "event", "customer", "created_from", "created_to")

    def clean(self):
        cleaned = super().clean()
        for name in ("q", "event", "customer"):
            if isinstance(cleaned.get(name), str):
                cleaned[name] = cleaned[name].strip()
        start, end = cleaned.get("created_from"), cleaned.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "The end date is before the start date.")
        return cleaned

    def filters(self) -> dict:
        """The valid filters only (an invalid field is left out, not guessed)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {k: data[k] for k in self.FILTER_FIELDS if data.get(k) not in (None, "")}
