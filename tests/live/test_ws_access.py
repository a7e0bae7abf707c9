"""Who may open which live stream: session, roles and the access rule, origins.

Against the real ASGI application (origin check, session and API-key
middleware, router, consumers) and the real Redis channel layer.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from accounts import services as account_services
from orders import consumers, services
from tests.asyncio_helpers import run_async
from tests.live.conftest import communicator, hang_up, messages_within, receive, ws_headers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def orders(users, make_order):
    """Orders seen from the ``User`` role: its own, one assigned to it, someone else's."""
    return {
        "own": make_order(users["User"]),
        "assigned": make_order(users["Manager"], assigned_to=users["User"]),
        "foreign": make_order(users["other"]),
    }


async def _connect(path: str, headers) -> tuple[bool, int | None, dict | None]:
    """(accepted, close code if refused, first message if accepted)."""
    comm = communicator(path, headers)
    accepted, detail = await comm.connect(timeout=5)
    first = await receive(comm) if accepted else None
    await hang_up(comm)  # what the server does after a refused handshake, too
    return accepted, (None if accepted else detail), first


# (who, which order, expected close code or None for "streams it")
ORDER_CASES = [
    ("Admin", "foreign", None),
    ("Manager", "foreign", None),
    ("Viewer", "foreign", None),
    ("User", "own", None),
    ("User", "assigned", None),
    ("User", "foreign", consumers.CLOSE_FORBIDDEN),
    ("norole", "own", consumers.CLOSE_FORBIDDEN),
    ("anonymous", "own", consumers.CLOSE_NOT_AUTHENTICATED),
]


@pytest.mark.parametrize(("who", "which", "refused_with"), ORDER_CASES)
def test_order_stream_follows_the_access_rule(users, orders, who, which, refused_with):
    order = orders[which]
    headers = ws_headers(None if who == "anonymous" else users[who])
    accepted, code, first = run_async(
        _connect(f"/ws/orders/{order.order_ref}/?after=0", headers), timeout=20
    )
    if refused_with is None:
        assert accepted, code
        assert first["type"] == "events"
        assert first["order"]["ref"] == order.order_ref
        assert [e["seq"] for e in first["events"]] == [1]
        assert first["events"][0]["kind"] == "order.created"
    else:
        assert not accepted
        assert code == refused_with
        assert first is None


def test_unknown_order_is_refused_like_a_forbidden_one(users):
    accepted, code, _ = run_async(
        _connect("/ws/orders/ORD-1999-999999/", ws_headers(users["Admin"])), timeout=20
    )
    assert (accepted, code) == (False, consumers.CLOSE_FORBIDDEN)


@pytest.mark.parametrize("after", ["-1", "x", "99999999999", "1.5"])
def test_after_must_be_a_sequence_number(users, orders, after):
    path = f"/ws/orders/{orders['own'].order_ref}/?after={after}"
    accepted, code, _ = run_async(_connect(path, ws_headers(users["User"])), timeout=20)
    assert (accepted, code) == (False, consumers.CLOSE_BAD_REQUEST)


@pytest.mark.parametrize(
    "origin", [b"http://evil.example", b"https://127.0.0.1.evil.example", b"null", None]
)
def test_origin_not_in_allowed_hosts_is_refused(users, orders, origin):
    headers = ws_headers(users["Admin"], origin=origin)
    accepted, _code, first = run_async(
        _connect(f"/ws/orders/{orders['own'].order_ref}/", headers), timeout=20
    )
    assert not accepted
    assert first is None
    # The same request from an allowed origin works: it is the origin that was refused.
    accepted, _code, _first = run_async(
        _connect(f"/ws/orders/{orders['own'].order_ref}/", ws_headers(users["Admin"])),
        timeout=20,
    )
    assert accepted


def test_user_unassigned_while_watching_is_cut_off_before_the_next_event(users, orders):
    """The rule is applied to the order as it is at each read, not only at connect."""
    order = orders["assigned"]
    headers = ws_headers(users["User"])

    async def scenario():
        comm = communicator(f"/ws/orders/{order.order_ref}/", headers)
        assert (await comm.connect(timeout=5))[0]
        await receive(comm)
        await database_sync_to_async(services.assign_order)(order, None, actor=users["Manager"])
        output = await comm.receive_output(timeout=5)
        while output["type"] == "websocket.send" and '"heartbeat"' in output.get("text", ""):
            output = await comm.receive_output(timeout=5)
        await hang_up(comm)
        return output

    output = run_async(scenario(), timeout=30)
    # Not the assignment event: the socket closes with 4403 instead.
    assert output == {"type": "websocket.close", "code": consumers.CLOSE_FORBIDDEN}, output


# --- dashboard -----------------------------------------------------------------------------


DASHBOARD_CASES = [
    ("Admin", None),
    ("Manager", None),
    ("Viewer", None),
    ("User", None),
    ("norole", consumers.CLOSE_FORBIDDEN),
    ("anonymous", consumers.CLOSE_NOT_AUTHENTICATED),
]


@pytest.mark.parametrize(("who", "refused_with"), DASHBOARD_CASES)
def test_dashboard_stream_needs_a_role_that_sees_orders(users, orders, who, refused_with):
    headers = ws_headers(None if who == "anonymous" else users[who])
    accepted, code, first = run_async(_connect("/ws/dashboard/", headers), timeout=20)
    if refused_with is not None:
        assert (accepted, code) == (False, refused_with)
        return
    assert accepted, code
    assert first["type"] == "dashboard"
    refs = {row["ref"] for row in first["orders"]}
    if who == "User":
        assert refs == {orders["own"].order_ref, orders["assigned"].order_ref}
    else:
        assert refs == {o.order_ref for o in orders.values()}


def test_dashboard_only_carries_changes_the_user_may_see(users, orders):
    """A User's dashboard never mentions someone else's order; a Manager's does."""

    user_headers, manager_headers = ws_headers(users["User"]), ws_headers(users["Manager"])

    async def scenario():
        user_ws = communicator("/ws/dashboard/", user_headers)
        manager_ws = communicator("/ws/dashboard/", manager_headers)
        for comm in (user_ws, manager_ws):
            assert (await comm.connect(timeout=5))[0]
            await receive(comm)
        # Someone else's order changes: the Manager hears of it, the User does not.
        await database_sync_to_async(services.update_order)(
            orders["foreign"], actor=users["other"], notes="changed by other"
        )
        manager_seen = await receive(manager_ws)
        assert await messages_within(user_ws, 1.5) == []
        # The User's own order changes: now the User gets a snapshot, without the other's.
        await database_sync_to_async(services.change_order_status)(
            orders["own"], "pending", actor=users["User"], reason="go"
        )
        user_seen = await receive(user_ws)
        for comm in (user_ws, manager_ws):
            await hang_up(comm)
        return manager_seen, user_seen

    manager_seen, user_seen = run_async(scenario(), timeout=30)
    foreign = orders["foreign"].order_ref
    assert manager_seen["activity"][0]["ref"] == foreign
    assert manager_seen["activity"][0]["text"] == "Details edited: notes"
    assert foreign not in {row["ref"] for row in user_seen["orders"]}
    assert foreign not in {entry["ref"] for entry in user_seen["activity"]}
    assert user_seen["activity"][0]["text"] == "Status Draft → Pending (go)"
    assert user_seen["counters"]["pending"] == 1


def test_dashboard_of_a_user_whose_role_is_removed_is_closed(users, orders):
    """The heartbeat (1 s in these tests) reloads the user and re-applies the rule."""

    headers = ws_headers(users["User"])

    async def scenario():
        comm = communicator("/ws/dashboard/", headers)
        assert (await comm.connect(timeout=5))[0]
        await receive(comm)
        await database_sync_to_async(account_services.set_role)(users["User"], None)
        output = await comm.receive_output(timeout=5)
        while output["type"] == "websocket.send" and '"heartbeat"' in output.get("text", ""):
            output = await comm.receive_output(timeout=5)
        await hang_up(comm)
        return output

    assert run_async(scenario(), timeout=30) == {
        "type": "websocket.close",
        "code": consumers.CLOSE_FORBIDDEN,
    }


def test_stream_ends_when_its_session_is_signed_out(users, orders):
    """Signing out elsewhere (the session is deleted) ends the stream at the next heartbeat."""
    from importlib import import_module

    from django.conf import settings

    headers = ws_headers(users["User"])
    session_key = dict(headers)[b"cookie"].decode().partition("=")[2]

    def sign_out() -> None:
        import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).delete()

    async def scenario():
        comm = communicator(f"/ws/orders/{orders['own'].order_ref}/", headers)
        assert (await comm.connect(timeout=5))[0]
        await receive(comm)
        await database_sync_to_async(sign_out)()
        output = await comm.receive_output(timeout=5)
        while output["type"] == "websocket.send" and '"heartbeat"' in output.get("text", ""):
            output = await comm.receive_output(timeout=5)
        await hang_up(comm)
        return output

    assert run_async(scenario(), timeout=30) == {
        "type": "websocket.close",
        "code": consumers.CLOSE_NOT_AUTHENTICATED,
    }
