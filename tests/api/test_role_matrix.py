"""Every endpoint this part adds, against every role: one table, one test case per row.

Requests carry an API key of the role's user (the way external systems call),
so these cases also show that a key acts with its user's role; a second
table runs a sample with session sign-in. Orders are seen from the ``User``
role: ``own``, ``assigned`` (to them), ``foreign`` (another User's): a User
does not even see a foreign order (404); roles that see it but may not act
get 403; no role is 403 everywhere; anonymous is 401.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from events.models import Event

from .conftest import API, WHO, check, make_image

TARGETS = ["own", "assigned", "foreign"]
SEES = {
    "Admin": set(TARGETS),
    "Manager": set(TARGETS),
    "Viewer": set(TARGETS),
    "User": {"own", "assigned"},
}


def on_order(who: str, target: str, success: int) -> int:
    """The expected status of reading one order's sub-resource (history, an image)."""
    if who == "anonymous":
        return 401
    if who == "norole":
        return 403
    return success if target in SEES[who] else 404


def by_role(success: int, allowed: set[str], who: str) -> int:
    if who == "anonymous":
        return 401
    return success if who in allowed else 403


ROLES = {"Admin", "Manager", "User", "Viewer"}
EDITORS = {"Admin", "Manager"}
SIGNED_IN = ROLES | {"norole"}


@dataclass
class Case:
    name: str
    method: str
    path: str  # "{event}", "{ref}", "{image}" are filled in
    expect: Any  # callable(who, target) -> status
    body: dict | None = None
    targets: list[str] = field(default_factory=lambda: [""])


CASES = [
    Case("events list", "get", "/events", lambda w, t: by_role(200, ROLES, w)),
    Case(
        "event create",
        "post",
        "/events",
        lambda w, t: by_role(201, EDITORS, w),
        body={"event_id": "NEW-{who}", "name": "New"},
    ),
    Case("event read", "get", "/events/{event}", lambda w, t: by_role(200, ROLES, w)),
    Case(
        "event put",
        "put",
        "/events/{event}",
        lambda w, t: by_role(200, EDITORS, w),
        body={"event_id": "{event}", "name": "Put by {who}"},
    ),
    Case(
        "event patch",
        "patch",
        "/events/{event}",
        lambda w, t: by_role(200, EDITORS, w),
        body={"name": "Patched by {who}"},
    ),
    Case("event orders", "get", "/events/{event}/orders", lambda w, t: by_role(200, ROLES, w)),
    Case("unknown event", "get", "/events/NOPE-1", lambda w, t: by_role(404, ROLES, w)),
    Case(
        "order history",
        "get",
        "/orders/{ref}/history",
        lambda w, t: on_order(w, t, 200),
        targets=TARGETS,
    ),
    Case(
        "one image",
        "get",
        "/orders/{ref}/images/{image}",
        lambda w, t: on_order(w, t, 200),
        targets=TARGETS,
    ),
    Case("profile", "get", "/users/profile", lambda w, t: by_role(200, SIGNED_IN, w)),
    Case(
        "settings",
        "put",
        "/users/settings",
        lambda w, t: by_role(200, SIGNED_IN, w),
        body={"page_size": 25},
    ),
    Case("logout", "post", "/auth/logout", lambda w, t: 204),
    Case("schema", "get", "/schema/", lambda w, t: 200),
    Case("docs", "get", "/docs/", lambda w, t: 200),
    # Existing endpoints, now with API keys: the key's user's role decides.
    Case("orders list", "get", "/orders", lambda w, t: by_role(200, ROLES, w)),
    Case(
        "order create",
        "post",
        "/orders",
        lambda w, t: by_role(201, {"Admin", "Manager", "User"}, w),
        body={"event": "{event}", "customer_name": "By key"},
    ),
    Case("order read", "get", "/orders/{ref}", lambda w, t: on_order(w, t, 200), targets=TARGETS),
    # "This is all": the upload right on the order (Viewers see it, may not).
    Case(
        "order submit",
        "post",
        "/orders/{ref}/submit",
        lambda w, t: 403 if w == "Viewer" else on_order(w, t, 200),
        targets=TARGETS,
    ),
    # Delivering short is a reviewer's decision (Manager, Admin); no image failed here: 409.
    Case(
        "deliver without failed",
        "post",
        "/orders/{ref}/deliver-without-failed",
        lambda w, t: (
            on_order(w, t, 409)
            if w in EDITORS | {"anonymous", "norole"}
            else (403 if t in SEES.get(w, set()) else 404)
        ),
        body={"note": "by {who}"},
        targets=TARGETS,
    ),
    Case("ai models", "get", "/ai/models", lambda w, t: by_role(200, ROLES, w)),
]

MATRIX = [
    pytest.param(case, who, target, id=f"{case.name}-{who}" + (f"-{target}" if target else ""))
    for case in CASES
    for target in case.targets
    for who in WHO
]


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in names.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


@pytest.fixture
def world(event, orders):
    """One image per order, so every order has a readable image."""
    return {
        "event": event,
        "orders": orders,
        "images": {target: make_image(order) for target, order in orders.items()},
    }


def _send(client, case: Case, who: str, target: str, world):
    order = world["orders"].get(target) or world["orders"]["own"]
    image = world["images"].get(target) or world["images"]["own"]
    names = {
        "event": world["event"].event_id,
        "ref": order.order_ref,
        "image": str(image.pk),
        "who": who,
    }
    path = API + _fill(case.path, names)
    body = _fill(case.body, names)
    return getattr(client, case.method)(path, body, format="json")


@pytest.mark.parametrize(("case", "who", "target"), MATRIX)
def test_role_matrix_with_api_keys(client_as, world, case, who, target):
    response = _send(client_as(who), case, who, target, world)
    check(response, case.expect(who, target))
    if who == "anonymous" and response.status_code == 401:
        assert response["WWW-Authenticate"].startswith("Api-Key")


SESSION_SAMPLE = ["events list", "event create", "event patch", "order history", "profile"]


@pytest.mark.parametrize(
    ("case", "who", "target"),
    [p for p in MATRIX if p.values[0].name in SESSION_SAMPLE],
)
def test_role_matrix_with_session(client_as, world, case, who, target):
    response = _send(client_as(who, session=True), case, who, target, world)
    check(response, case.expect(who, target))


@pytest.mark.parametrize("who", ["Admin", "Manager", "Viewer", "User"])
def test_event_orders_lists_only_what_the_role_sees(client_as, world, who):
    body = client_as(who).get(f"{API}/events/{world['event'].event_id}/orders").json()
    listed = {row["order_ref"] for row in body["results"]}
    assert listed == {world["orders"][t].order_ref for t in SEES[who]}


def test_writes_by_refused_roles_change_nothing(client_as, world):
    event = world["event"]
    for who in ("User", "Viewer", "norole", "anonymous"):
        client_as(who).patch(f"{API}/events/{event.event_id}", {"name": "X"}, format="json")
        client_as(who).post(f"{API}/events", {"event_id": f"X-{who}"}, format="json")
    event.refresh_from_db()
    assert event.name == "Test event"
    assert not Event.objects.filter(event_id__startswith="X-").exists()
