"""The AI preset an order names (``Order.preset``), as orders' forms, API and folder import
offer it.

The preset model lives in ``ai_processing`` (the AI step reads its operations, prompts and
thresholds), which sits above ``orders``. An order only names one, by its relation
(``Order.preset``, declared by label); so orders reaches the model through that relation, as
Django's model forms do, and imports nothing of ``ai_processing``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .models import Order


def model() -> Any:
    """The model ``Order.preset`` points to."""
    return Order._meta.get_field("preset").related_model


def active() -> QuerySet:
    """The presets people may choose now (inactive ones stay on old orders only)."""
    return model().objects.filter(is_active=True)


def active_by_slug(slug: str) -> Any | None:
    """The active preset with this slug, or None."""
    return active().filter(slug=slug).first()
