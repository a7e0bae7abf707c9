"""The API's filter backend skips django-filter only when no query parameter names a filter.

``utilities.api.filters.FilterBackend`` returns the queryset untouched when no parameter is,
or begins with, a declared filter's name. These tests check that every parameter each API's
filter set reads (its form's fields, and a multi-value widget's suffixed names) is recognised,
and that an unknown parameter changes nothing while a known one still filters.
"""

from __future__ import annotations

import pytest
from django.urls import get_resolver
from django_filters.widgets import SuffixedMultiWidget
from rest_framework.views import APIView

from utilities.api.filters import FilterBackend, _names_a_filter

from .conftest import API


def _filter_sets():
    """The filter sets of every API view that filters through ``FilterBackend``."""
    get_resolver().url_patterns  # imports every app's views  # noqa: B018
    seen, stack = set(), [APIView]
    while stack:
        view = stack.pop()
        stack.extend(view.__subclasses__())
        filterset = getattr(view, "filterset_class", None)
        if filterset is not None and FilterBackend in getattr(view, "filter_backends", []):
            seen.add(filterset)
    return sorted(seen, key=lambda f: f.__name__)


FILTER_SETS = _filter_sets()


def test_the_api_has_filter_sets_behind_the_backend():
    names = {f.__name__ for f in FILTER_SETS}
    assert {"OrderFilter", "NotificationFilter"} <= names, names


@pytest.mark.parametrize("filterset", FILTER_SETS, ids=lambda f: f.__name__)
def test_every_parameter_a_filter_set_reads_is_recognised(filterset):
    form = filterset(data={}).form
    for name, field in form.fields.items():
        widget = field.widget
        params = [name]
        if isinstance(widget, SuffixedMultiWidget):
            params = [f"{name}_{suffix}" for suffix in widget.suffixes]
        for param in params:
            assert _names_a_filter([param], filterset.base_filters), param


def test_a_parameter_naming_no_filter_is_not_a_filter():
    assert not _names_a_filter(["cursor", "page_size", "ordering"], {"status": None})


@pytest.mark.django_db
def test_an_unknown_parameter_changes_nothing_and_a_filter_still_filters(
    client_as, users, make_order
):
    from orders.models import Order

    mine = make_order(users["Manager"])
    done = make_order(users["Manager"])
    Order.objects.filter(pk=done.pk).update(status=Order.Status.CANCELLED)
    client = client_as("Manager")

    plain = client.get(f"{API}/orders", {"unknown": "x"}).json()["results"]
    assert {o["order_ref"] for o in plain} >= {mine.order_ref, done.order_ref}
    cancelled = client.get(f"{API}/orders", {"status": "cancelled"}).json()["results"]
    assert [o["order_ref"] for o in cancelled] == [done.order_ref]
    refused = client.get(f"{API}/orders", {"status": "nonsense"})
    assert refused.status_code == 400
