"""Forms of the order pages: the new-order form and the order list's filters."""

from __future__ import annotations

from django import forms
from django.db.models import Q

from . import presets
from .models import Order, PrintSize
from .selectors import OPEN

#: Prefix of the per-size quantity fields ("prints_4x6").
PRINT_FIELD = "prints_"


class PrintQuantitiesMixin:
    """One quantity field per print size on offer ("how many 4×6 of each image"; 0 or empty:
    none), turned into the lines ``print_services`` takes. Sizes already on the order stay
    shown even when no longer offered, so an edit does not silently drop them."""

    def add_print_fields(self, current: dict[str, int] | None = None) -> None:
        current = current or {}
        sizes = PrintSize.objects.filter(active=True) | PrintSize.objects.filter(
            code__in=list(current)
        )
        for size in sizes.distinct().order_by("position", "code"):
            self.fields[PRINT_FIELD + size.code] = forms.IntegerField(
                label=f"{size.label} prints" if size.is_physical else size.label,
                min_value=0,
                max_value=999,
                required=False,
                initial=current.get(size.code) or None,
                widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "quantity"}),
            )

    def print_fields(self) -> list:
        return [self[name] for name in self.fields if name.startswith(PRINT_FIELD)]

    def detail_fields(self) -> list:
        return [self[name] for name in self.fields if not name.startswith(PRINT_FIELD)]

    def print_lines(self) -> list[dict]:
        return [
            {"size": name[len(PRINT_FIELD) :], "quantity": value}
            for name, value in self.cleaned_data.items()
            if name.startswith(PRINT_FIELD) and value
        ]


class NewOrderForm(PrintQuantitiesMixin, forms.Form):
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
        queryset=presets.active(),
        required=False,
        empty_label="No preset (choose later)",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_print_fields()

    def clean_event_id(self) -> str:
        """The ID as typed (trimmed): ``services.create_order`` resolves it, here or in the
        PMR, so a refused form writes nothing."""
        return self.cleaned_data["event_id"].strip()

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

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "reference, event ID or e-mail"}),
    )
    status = forms.ChoiceField(label="Status", choices=STATUS_CHOICES, required=False)
    event = forms.CharField(label="Event ID", required=False, max_length=50)
    # Names and e-mails are stored encrypted (docs/deployment.md, "Encryption at rest"): the
    # database can match a whole e-mail address through its keyed hash, never part of a name.
    customer = forms.EmailField(
        label="Customer e-mail",
        required=False,
        max_length=255,
        error_messages={
            "invalid": "Customer names are stored encrypted and cannot be searched: enter the "
            "customer's whole e-mail address."
        },
        widget=forms.EmailInput(attrs={"placeholder": "whole address"}),
    )
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


class OrderDetailsForm(PrintQuantitiesMixin, forms.Form):
    """The order page's "Edit details": what a person may change about an order.

    The order date only while nothing went to the PMR and the preset only until the
    AI step starts (``services.order_date_editable``, ``services.ai_started``): the
    fields are left out otherwise, and the service refuses a change anyway.
    """

    customer_name = forms.CharField(
        label="Customer name",
        max_length=255,
        error_messages={"required": "Enter the customer's name."},
    )
    customer_email = forms.EmailField(label="Customer e-mail", max_length=255, required=False)
    order_date = forms.DateTimeField(
        label="Order date",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        error_messages={
            "required": "Enter the order date and time.",
            "invalid": "Enter the date and time, e.g. 2026-12-04 09:21.",
        },
    )
    preset = forms.ModelChoiceField(
        label="Processing preset",
        queryset=presets.active(),
        required=False,
        empty_label="No preset (the default preset applies)",
    )
    notes = forms.CharField(
        label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 4}), max_length=5000
    )

    def __init__(
        self,
        *args,
        order: Order,
        date_editable: bool,
        preset_editable: bool,
        prints: dict[str, int] | None = None,
        **kw,
    ):
        initial = {
            "customer_name": order.customer_name,
            "customer_email": order.customer_email,
            "order_date": order.order_date,
            "preset": order.preset_id,
            "notes": order.notes,
        }
        super().__init__(*args, initial=initial, **kw)
        self.order = order
        if not date_editable:
            del self.fields["order_date"]
        if not preset_editable:
            del self.fields["preset"]
        else:  # an inactive preset the order already has stays choosable
            self.fields["preset"].queryset = (
                presets.model()
                .objects.filter(Q(is_active=True) | Q(pk=order.preset_id))
                .order_by("name")
            )
        if prints is not None:  # None: what was ordered can no longer change
            self.add_print_fields(prints)

    def clean_customer_name(self) -> str:
        value = self.cleaned_data["customer_name"].strip()
        if not value:
            raise forms.ValidationError("Enter the customer's name.", code="required")
        return value

    def changes(self) -> dict:
        """The cleaned values of the fields shown, as ``services.update_order`` takes them.

        The date field shows minutes: an untouched date (stored with seconds) is no change.
        """
        changes = {k: v for k, v in self.cleaned_data.items() if not k.startswith(PRINT_FIELD)}
        shown = self.order.order_date.replace(second=0, microsecond=0)
        if "order_date" in changes and changes["order_date"] == shown:
            del changes["order_date"]
        return changes


class CancelOrderForm(forms.Form):
    reason = forms.CharField(
        label="Why (optional, shown in the timeline)",
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class ImagePrintsForm(PrintQuantitiesMixin, forms.Form):
    """An image's own prints: quantities per size, or "as the order" (no lines of its own)."""

    own = forms.BooleanField(
        label="This image has its own prints (otherwise it takes the order's)", required=False
    )

    def __init__(self, *args, current: dict[str, int], **kwargs):
        super().__init__(*args, initial={"own": bool(current)}, **kwargs)
        self.add_print_fields(current)
