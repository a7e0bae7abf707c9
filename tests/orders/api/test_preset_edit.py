"""The order's preset through the API: changeable until the AI step starts (the same rule as
the order page's "Edit details", ``services.update_order``), refused with a sentence after."""

from __future__ import annotations

import pytest

from ai_processing.models import ProcessingPreset
from orders.models import Order

from .conftest import API, assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(users, make_order):
    return make_order(users["User"])


def test_preset_changes_before_the_ai_step(client_as, order):
    preset = ProcessingPreset.objects.filter(is_active=True).first()
    response = client_as("User").patch(
        f"{API}/orders/{order.order_ref}", {"preset": preset.slug}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["preset"] == preset.slug
    order.refresh_from_db()
    assert order.preset == preset


def test_preset_is_refused_once_processing(client_as, order):
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PROCESSING)
    preset = ProcessingPreset.objects.filter(is_active=True).first()
    response = client_as("User").patch(
        f"{API}/orders/{order.order_ref}", {"preset": preset.slug}, format="json"
    )
    error = assert_error(response, 409, "conflict")
    assert "preset can no longer change" in error["message"]
    order.refresh_from_db()
    assert order.preset is None
