"""The settings page's form: one checkbox per kind and channel the user can get."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts import preferences

from .kinds import kinds_for


def field_name(kind: str, channel: str) -> str:
    return f"{kind}__{channel}"


class PreferencesForm(forms.Form):
    """Checkboxes for the kinds this user can receive; the others keep their stored values."""

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.kinds = kinds_for(user)
        table = preferences.notification_table(user.settings)
        for kind in self.kinds:
            for channel, label in preferences.CHANNELS.items():
                self.fields[field_name(kind, channel)] = forms.BooleanField(
                    required=False,
                    initial=table[kind][channel],
                    label=f"{preferences.KINDS[kind]}: {label}",
                )

    def rows(self) -> list[dict[str, Any]]:
        """The table the template draws: a row per kind, a bound field per channel."""
        return [
            {
                "kind": kind,
                "label": preferences.KINDS[kind],
                "fields": [self[field_name(kind, channel)] for channel in preferences.CHANNELS],
            }
            for kind in self.kinds
        ]

    def table(self) -> dict[str, dict[str, bool]]:
        """The full table to store: this form's choices over the user's current ones."""
        table = preferences.notification_table(self.user.settings)
        for kind in self.kinds:
            for channel in preferences.CHANNELS:
                table[kind][channel] = bool(self.cleaned_data.get(field_name(kind, channel)))
        return table
