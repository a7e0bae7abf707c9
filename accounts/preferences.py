"""The schema of ``User.settings``: what each user chooses, read by the apps that act on it.

``User.settings`` is a JSON object. The accounts app owns its shape (the API
validates it here, ``accounts.api``), so the apps above that read it
(notifications) need no import the other way round. Today it holds one key:

``notifications``: for each kind of notification, for each channel, on or off::

    {"notifications": {"order_completed": {"in_app": true, "browser": true, "email": false},
                       ...}}

Kinds and channels missing from a user's object take ``DEFAULTS``; unknown
kinds or channels and values other than ``true``/``false`` are refused with a
sentence, never stored. Other top-level keys (a page's own preferences) are
kept as sent.
"""

from __future__ import annotations

from typing import Any

#: Kinds of notification, in the order the settings page lists them, with their labels.
KINDS: dict[str, str] = {
    "order_completed": "Order completed",
    "order_needs_review": "Order needs review",
    "order_awaiting_approval": "Order awaits approval",
    "order_approved": "Order approved",
    "pmr_refused": "The PMR refused a write",
    "service_down": "AI provider or PMR down",
    "failed_signins": "Repeated failed sign-ins",
    "backup_failed": "A backup failed",
}

#: Channels, with their labels: the notification centre (the bell), the system notifications
#: of the browser (while a tab is open, and Web Push when none is), and e-mail.
CHANNELS: dict[str, str] = {
    "in_app": "In the app",
    "browser": "Browser notifications",
    "email": "E-mail",
}

#: What a user gets before choosing: everything in the app and the browser (which still needs
#: the browser's permission), e-mail for what needs someone to act, not for a completed order.
DEFAULTS: dict[str, dict[str, bool]] = {
    "order_completed": {"in_app": True, "browser": True, "email": False},
    "order_needs_review": {"in_app": True, "browser": True, "email": True},
    "order_awaiting_approval": {"in_app": True, "browser": True, "email": True},
    "order_approved": {"in_app": True, "browser": True, "email": False},
    "pmr_refused": {"in_app": True, "browser": True, "email": True},
    "service_down": {"in_app": True, "browser": True, "email": True},
    "failed_signins": {"in_app": True, "browser": True, "email": True},
    "backup_failed": {"in_app": True, "browser": True, "email": True},
}

SETTINGS_KEY = "notifications"


class PreferencesError(ValueError):
    """Preferences that cannot be stored; ``details`` says where, in the API's error shape."""

    def __init__(self, details: dict[str, Any]) -> None:
        super().__init__("Invalid notification preferences.")
        self.details = details


def clean_notifications(value: Any) -> dict[str, dict[str, bool]]:
    """The complete table of kinds and channels from what a client sent (missing ones: defaults).

    Raises ``PreferencesError`` with every problem found, keyed by kind and channel.
    """
    if not isinstance(value, dict):
        raise PreferencesError(
            {"non_field_errors": ["Notification preferences are a JSON object of kinds."]}
        )
    errors: dict[str, Any] = {}
    table = notification_table({})
    for kind, channels in value.items():
        if kind not in KINDS:
            errors[str(kind)[:50]] = [f"Unknown kind; one of {', '.join(KINDS)}."]
            continue
        if not isinstance(channels, dict):
            errors[kind] = ["A JSON object of channels, each true or false."]
            continue
        problems: dict[str, list[str]] = {}
        for channel, on in channels.items():
            if channel not in CHANNELS:
                problems[str(channel)[:50]] = [f"Unknown channel; one of {', '.join(CHANNELS)}."]
            elif not isinstance(on, bool):
                problems[channel] = ["Must be true or false."]
            else:
                table[kind][channel] = on
        if problems:
            errors[kind] = problems
    if errors:
        raise PreferencesError(errors)
    return table


def clean_settings(value: dict[str, Any]) -> dict[str, Any]:
    """The settings object to store: ``notifications`` checked and completed, the rest kept."""
    cleaned = dict(value)
    if SETTINGS_KEY in cleaned:
        try:
            cleaned[SETTINGS_KEY] = clean_notifications(cleaned[SETTINGS_KEY])
        except PreferencesError as exc:
            raise PreferencesError({SETTINGS_KEY: exc.details}) from None
    return cleaned


def notification_table(settings_: Any) -> dict[str, dict[str, bool]]:
    """The user's effective table: their stored choices over the defaults.

    Reading never fails: a stored value that is not what ``clean_notifications``
    writes (edited by hand in the admin) falls back to the defaults, entry by entry.
    """
    stored = settings_.get(SETTINGS_KEY) if isinstance(settings_, dict) else None
    stored = stored if isinstance(stored, dict) else {}
    table: dict[str, dict[str, bool]] = {}
    for kind, defaults in DEFAULTS.items():
        chosen = stored.get(kind) if isinstance(stored.get(kind), dict) else {}
        table[kind] = {
            channel: chosen[channel] if isinstance(chosen.get(channel), bool) else default
            for channel, default in defaults.items()
        }
    return table


def wants(user: Any, kind: str, channel: str) -> bool:
    """Does ``user`` want notifications of ``kind`` through ``channel``?"""
    return notification_table(getattr(user, "settings", None))[kind][channel]


def effective_settings(settings_: Any) -> dict[str, Any]:
    """The settings object as the API shows it: stored keys, with the full notification table."""
    shown = dict(settings_) if isinstance(settings_, dict) else {}
    shown[SETTINGS_KEY] = notification_table(settings_)
    return shown
