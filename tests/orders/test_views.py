"""The order pages show exactly what the access rule allows."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from orders.models import Order


@pytest.fixture
def orders(users, make_order):
    return {
        "own": make_order(users["User"]),
        "assigned": make_order(users["Manager"], assigned_to=users["User"]),
        "foreign": make_order(users["other"]),
        "managers": make_order(users["Manager"]),
    }


def test_home_sends_anonymous_visitors_to_login(client, orders):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=/" in response["Location"]


def test_detail_sends_anonymous_visitors_to_login(client, orders):
    response = client.get(f"/orders/{orders['own'].order_ref}/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


#: who -> the orders (by fixture key) that person sees on the home page.
SEES = {
    "User": {"own", "assigned"},
    "other": {"foreign"},
    "Viewer": {"own", "assigned", "foreign", "managers"},
    "Manager": {"own", "assigned", "foreign", "managers"},
    "Admin": {"own", "assigned", "foreign", "managers"},
    "norole": set(),
}


@pytest.mark.parametrize("who", list(SEES))
def test_home_lists_exactly_the_visible_orders(client, users, orders, who):
    client.force_login(users[who])
    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    for key, order in orders.items():
        assert (order.order_ref in html) is (key in SEES[who]), (who, key)
    listed = {o.order_ref for o in response.context["orders"]}
    assert listed == {orders[key].order_ref for key in SEES[who]}
    assert response.context["total"] == len(SEES[who])


@pytest.mark.parametrize("who", ["Admin", "Manager", "User", "Viewer"])
def test_home_shows_no_role_notice_only_without_a_role(client, users, orders, who):
    client.force_login(users[who])
    assert 'data-testid="no-role"' not in client.get("/").content.decode()


def test_home_shows_the_no_role_notice(client, users, orders):
    client.force_login(users["norole"])
    html = client.get("/").content.decode()
    assert 'data-testid="no-role"' in html
    assert 'data-testid="no-orders"' in html


def test_home_counts_by_status(client, users, orders):
    Order.objects.filter(pk=orders["foreign"].pk).update(status=Order.Status.PENDING)
    client.force_login(users["User"])
    counters = {value: n for value, _label, n in client.get("/").context["counters"]}
    assert counters[Order.Status.DRAFT] == 2  # own + assigned; the pending one is not theirs
    assert counters[Order.Status.PENDING] == 0

    client.force_login(users["Viewer"])
    counters = {value: n for value, _label, n in client.get("/").context["counters"]}
    assert counters[Order.Status.DRAFT] == 3
    assert counters[Order.Status.PENDING] == 1


@pytest.mark.parametrize("who", list(SEES))
def test_detail_is_404_unless_visible(client, users, orders, who):
    client.force_login(users[who])
    for key, order in orders.items():
        response = client.get(f"/orders/{order.order_ref}/")
        expected = 200 if key in SEES[who] else 404
        assert response.status_code == expected, (who, key)
        if expected == 200:
            assert order.order_ref in response.content.decode()


def test_detail_of_unknown_reference_is_404(client, users):
    client.force_login(users["Admin"])
    assert client.get("/orders/ORD-1900-000001/").status_code == 404


def test_detail_offers_writes_only_to_those_who_may(client, users, orders):
    client.force_login(users["Viewer"])
    context = client.get(f"/orders/{orders['own'].order_ref}/").context
    assert (context["can_change"], context["can_process"]) == (False, False)

    client.force_login(users["User"])
    context = client.get(f"/orders/{orders['assigned'].order_ref}/").context
    assert (context["can_change"], context["can_process"]) == (True, True)


def test_inactive_user_is_not_let_in(client, users, orders):
    user = users["Manager"]
    user.is_active = False
    user.save()
    client.force_login(user)
    response = client.get("/")
    # Django's auth refuses inactive users' sessions: treated as anonymous.
    assert response.status_code == 302
    assert isinstance(response.wsgi_request.user, AnonymousUser)
