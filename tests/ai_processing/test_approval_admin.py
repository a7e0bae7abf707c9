"""Managers set the quality gate and the hold for approval in the admin (presets, events)."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry

from ai_processing.models import ProcessingPreset
from events.models import Event

pytestmark = pytest.mark.django_db


def test_a_manager_edits_the_gate_and_the_hold_of_a_preset(client, users):
    preset = ProcessingPreset.objects.create(
        name="Weddings", slug="weddings", operations=["analyze", "edit"]
    )
    client.force_login(users["Manager"])
    url = f"/admin/ai_processing/processingpreset/{preset.pk}/change/"
    page = client.get(url).content.decode()
    for field in (
        "gate_min_sharpness",
        "gate_max_clipped_shadows",
        "gate_max_clipped_highlights",
        "gate_max_noise",
        "gate_min_short_side",
        "hold_for_approval",
        "owner_may_approve",
        "auto_approve_hours",
    ):
        assert f'name="{field}"' in page, field
    response = client.post(
        url,
        {
            "name": "Weddings",
            "slug": "weddings",
            "description": "",
            "operations": '["analyze", "edit"]',
            "edit_prompt": "",
            "caption_prompt": "",
            "print_aspect": "",
            "is_active": "on",
            "gate_min_sharpness": "40",
            "gate_min_short_side": "1200",
            "hold_for_approval": "on",
            "auto_approve_hours": "24",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    preset.refresh_from_db()
    assert preset.gate_min_sharpness == 40
    assert preset.gate_min_short_side == 1200
    assert preset.gate_max_noise is None  # left empty: no check
    assert preset.hold_for_approval
    assert not preset.owner_may_approve
    assert preset.auto_approve_hours == 24
    entry = LogEntry.objects.get_for_object(preset).latest("timestamp")
    assert entry.actor == users["Manager"]
    assert "hold_for_approval" in entry.changes


def test_a_manager_sets_the_hold_of_an_event_and_a_user_cannot(client, users, event):
    client.force_login(users["Manager"])
    url = f"/admin/events/event/{event.pk}/change/"
    page = client.get(url).content.decode()
    assert "As the order&#x27;s preset says" in page
    assert "Hold every order for approval" in page
    event.hold_for_approval = Event.Hold.HOLD
    event.save()
    client.force_login(users["User"])
    assert client.get(url).status_code in (302, 403)
