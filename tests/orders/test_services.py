"""Order services: creation, references, the two state machines, edits, assignment, timeline."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied

from accounts.roles import USER
from orders import services
from orders.models import Image, Order, OrderEvent, OrderRefSequence
from tests.conftest import make_user
from utilities.errors import OrderError, TransitionNotAllowed

Kind = OrderEvent.Kind
REF = re.compile(r"^ORD-(\d{4})-(\d{6})$")


def ref_number(order: Order) -> int:
    match = REF.match(order.order_ref)
    assert match, order.order_ref
    return int(match.group(2))


def timeline(order: Order) -> list[tuple[int, str]]:
    return list(OrderEvent.objects.filter(order=order).order_by("seq").values_list("seq", "kind"))


def assert_gapless(order: Order) -> None:
    seqs = list(
        OrderEvent.objects.filter(order=order).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, len(seqs) + 1))
    assert Order.objects.get(pk=order.pk).last_event_seq == len(seqs)


# --- create_order -------------------------------------------------------------


@pytest.mark.parametrize("role", ["Admin", "Manager", "User"])
def test_roles_that_may_create_orders(users, event, role):
    actor = users[role]
    order = services.create_order(
        actor=actor,
        event=event,
        customer_name="  Jane Doe ",
        customer_email=" Jane@Example.COM ",
        notes="rush",
    )
    order.refresh_from_db()
    assert REF.match(order.order_ref)
    assert order.created_by == actor
    assert order.status == Order.Status.DRAFT
    assert order.customer_name == "Jane Doe"
    assert order.customer_email == "jane@example.com"
    assert timeline(order) == [(1, Kind.ORDER_CREATED)]
    created = OrderEvent.objects.get(order=order)
    assert created.actor == actor
    assert created.payload == {"status": Order.Status.DRAFT}


@pytest.mark.parametrize("who", ["Viewer", "norole"])
def test_roles_that_may_not_create_orders(users, event, who):
    with pytest.raises(PermissionDenied):
        services.create_order(actor=users[who], event=event, customer_name="X")
    assert not Order.objects.exists()
    assert not OrderEvent.objects.exists()


def test_inactive_and_system_may_not_create_orders(users, event):
    users["Manager"].is_active = False
    with pytest.raises(PermissionDenied):
        services.create_order(actor=users["Manager"], event=event, customer_name="X")
    with pytest.raises(PermissionDenied):
        services.create_order(actor=None, event=event, customer_name="X")
    assert not Order.objects.exists()


def test_user_may_assign_to_self_but_not_to_someone_else(users, event):
    user = users["User"]
    mine = services.create_order(actor=user, event=event, customer_name="A", assigned_to=user)
    assert mine.assigned_to == user

    before = Order.objects.count()
    with pytest.raises(PermissionDenied):
        services.create_order(
            actor=user, event=event, customer_name="B", assigned_to=users["other"]
        )
    assert Order.objects.count() == before


def test_manager_may_assign_to_someone_else_on_creation(users, event):
    order = services.create_order(
        actor=users["Manager"], event=event, customer_name="A", assigned_to=users["User"]
    )
    assert Order.objects.get(pk=order.pk).assigned_to == users["User"]


def test_order_refs_are_formatted_unique_and_increasing(users, make_order):
    orders = [make_order(users["User"]) for _ in range(5)]
    year = orders[0].order_date.year
    refs = [o.order_ref for o in orders]
    assert all(REF.match(r) and REF.match(r).group(1) == str(year) for r in refs)
    assert len(set(refs)) == len(refs)
    numbers = [ref_number(o) for o in orders]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert OrderRefSequence.objects.get(year=year).last_value == numbers[-1]


def test_order_refs_are_numbered_per_year_of_the_order_date(users, make_order):
    def at(year):
        return datetime(year, 6, 1, 12, tzinfo=UTC)

    a = make_order(users["User"], order_date=at(2001))
    b = make_order(users["User"], order_date=at(2001))
    c = make_order(users["User"], order_date=at(2002))
    d = make_order(users["User"], order_date=at(2001))

    assert [a.order_ref, b.order_ref, d.order_ref] == [
        "ORD-2001-000001",
        "ORD-2001-000002",
        "ORD-2001-000003",
    ]
    assert c.order_ref == "ORD-2002-000001"


def test_failed_creation_does_not_use_up_a_reference(users, make_order, event):
    first = make_order(users["User"])
    with pytest.raises(PermissionDenied):
        services.create_order(
            actor=users["User"], event=event, customer_name="X", assigned_to=users["other"]
        )
    second = make_order(users["User"])
    assert ref_number(second) == ref_number(first) + 1


# --- change_order_status --------------------------------------------------------

ORDER_STATUSES = list(Order.Status.values)
ORDER_PAIRS = list(itertools.product(ORDER_STATUSES, ORDER_STATUSES))
ALLOWED_ORDER_PAIRS = [(a, b) for a, b in ORDER_PAIRS if b in Order.TRANSITIONS[a]]
REFUSED_ORDER_PAIRS = [(a, b) for a, b in ORDER_PAIRS if b not in Order.TRANSITIONS[a]]


def test_order_state_machine_covers_every_status():
    assert set(Order.TRANSITIONS) == set(ORDER_STATUSES)
    assert all(set(targets) <= set(ORDER_STATUSES) for targets in Order.TRANSITIONS.values())
    assert Order.TRANSITIONS[Order.Status.COMPLETED] == frozenset()
    assert Order.TRANSITIONS[Order.Status.CANCELLED] == frozenset()
    assert len(ALLOWED_ORDER_PAIRS) > 0
    assert len(REFUSED_ORDER_PAIRS) > 0


@pytest.mark.parametrize(("current", "new"), ALLOWED_ORDER_PAIRS)
def test_allowed_order_transition(manager, order_in, current, new):
    order = order_in(current)
    seq_before = order.last_event_seq

    returned = services.change_order_status(order, new, actor=manager, reason="why")

    stored = Order.objects.get(pk=order.pk)
    assert stored.status == new
    assert returned.status == new
    assert (stored.completed_at is not None) is (new == Order.Status.COMPLETED)
    last = OrderEvent.objects.filter(order=order).latest("seq")
    assert last.seq == seq_before + 1
    assert last.kind == Kind.ORDER_STATUS
    assert last.payload == {"from": current, "to": new, "reason": "why"}
    assert last.actor == manager
    assert_gapless(order)


@pytest.mark.parametrize(("current", "new"), REFUSED_ORDER_PAIRS)
def test_refused_order_transition_changes_nothing(manager, order_in, current, new):
    order = order_in(current)
    events_before = timeline(order)
    updated_before = Order.objects.get(pk=order.pk).updated_at

    with pytest.raises(TransitionNotAllowed) as excinfo:
        services.change_order_status(order, new, actor=manager)

    assert (excinfo.value.current, excinfo.value.new) == (current, new)
    stored = Order.objects.get(pk=order.pk)
    assert stored.status == current
    assert stored.updated_at == updated_before
    assert timeline(order) == events_before
    assert stored.last_event_seq == len(events_before)


def test_unknown_order_status_is_refused(order_in):
    order = order_in(Order.Status.PENDING)
    with pytest.raises(TransitionNotAllowed):
        services.change_order_status(order, "shipped")
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING


def test_system_actor_changes_status_without_access_check(order_in):
    order = order_in(Order.Status.PENDING)
    services.change_order_status(order, Order.Status.PROCESSING, actor=None)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PROCESSING
    assert OrderEvent.objects.filter(order=order).latest("seq").actor is None


@pytest.mark.parametrize("new", [Order.Status.PROCESSING, Order.Status.CANCELLED])
def test_viewer_and_no_role_may_not_change_status(users, order_in, new):
    order = order_in(Order.Status.PENDING)
    for who in ("Viewer", "norole"):
        with pytest.raises(PermissionDenied):
            services.change_order_status(order, new, actor=users[who])
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING
    assert timeline(order) == [(1, Kind.ORDER_CREATED)]


def test_user_may_move_own_and_assigned_orders_but_not_others(users, make_order):
    user = users["User"]
    own = make_order(user)
    assigned = make_order(users["Manager"], assigned_to=user)
    foreign = make_order(users["other"])

    services.change_order_status(own, Order.Status.PENDING, actor=user)
    services.change_order_status(assigned, Order.Status.CANCELLED, actor=user)
    with pytest.raises(PermissionDenied):
        services.change_order_status(foreign, Order.Status.PENDING, actor=user)
    with pytest.raises(PermissionDenied):
        services.change_order_status(foreign, Order.Status.CANCELLED, actor=user)

    assert Order.objects.get(pk=own.pk).status == Order.Status.PENDING
    assert Order.objects.get(pk=assigned.pk).status == Order.Status.CANCELLED
    assert Order.objects.get(pk=foreign.pk).status == Order.Status.DRAFT


def test_status_change_uses_the_stored_status_not_a_stale_object(users, make_order):
    order = make_order(users["Manager"])
    stale = Order.objects.get(pk=order.pk)
    services.change_order_status(order, Order.Status.CANCELLED, actor=users["Manager"])
    with pytest.raises(TransitionNotAllowed):
        services.change_order_status(stale, Order.Status.PENDING, actor=users["Manager"])
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED


# --- change_image_status --------------------------------------------------------

IMAGE_STATUSES = list(Image.Status.values)
IMAGE_PAIRS = list(itertools.product(IMAGE_STATUSES, IMAGE_STATUSES))
ALLOWED_IMAGE_PAIRS = [(a, b) for a, b in IMAGE_PAIRS if b in Image.TRANSITIONS[a]]
REFUSED_IMAGE_PAIRS = [(a, b) for a, b in IMAGE_PAIRS if b not in Image.TRANSITIONS[a]]


def real_counters(order: Order) -> dict[str, int]:
    images = list(Image.objects.filter(order=order).values_list("status", flat=True))
    S = Image.Status
    return {
        "total_images": len(images),
        "ingested_images": sum(s in Image.PAST_INGEST for s in images),
        "processed_images": sum(s in (S.PROCESSED, S.SYNCED) for s in images),
        "synced_images": sum(s == S.SYNCED for s in images),
        "rejected_images": sum(s == S.REJECTED for s in images),
        "failed_images": sum(s == S.FAILED for s in images),
        "review_images": sum(s == S.NEEDS_REVIEW for s in images),
    }


def stored_counters(order: Order) -> dict[str, int]:
    return Order.objects.values(*real_counters(order)).get(pk=order.pk)


def test_image_state_machine_covers_every_status():
    assert set(Image.TRANSITIONS) == set(IMAGE_STATUSES)
    assert all(set(targets) <= set(IMAGE_STATUSES) for targets in Image.TRANSITIONS.values())


@pytest.mark.parametrize(("current", "new"), ALLOWED_IMAGE_PAIRS)
def test_allowed_image_transition(manager, make_order, make_image, current, new):
    order = make_order(manager)
    image = make_image(order, current)
    make_image(order, Image.Status.SYNCED)  # a bystander, counted too

    services.change_image_status(image, new, actor=manager, reason="because")

    stored = Image.objects.get(pk=image.pk)
    assert (stored.status, stored.status_reason) == (new, "because")
    assert image.status == new
    counts = real_counters(order)
    assert stored_counters(order) == counts
    last = OrderEvent.objects.filter(order=order).latest("seq")
    assert last.kind == Kind.IMAGE_STATUS
    assert last.actor == manager
    assert last.payload == {
        "image": image.pk,
        "from": current,
        "to": new,
        "reason": "because",
        **counts,
    }
    assert_gapless(order)


@pytest.mark.parametrize(("current", "new"), REFUSED_IMAGE_PAIRS)
def test_refused_image_transition_changes_nothing(manager, make_order, make_image, current, new):
    order = make_order(manager)
    image = make_image(order, current)
    counters_before = stored_counters(order)
    events_before = timeline(order)

    with pytest.raises(TransitionNotAllowed) as excinfo:
        services.change_image_status(image, new, actor=manager)

    assert (excinfo.value.current, excinfo.value.new) == (current, new)
    assert Image.objects.get(pk=image.pk).status == current
    assert stored_counters(order) == counters_before
    assert timeline(order) == events_before


def test_image_status_change_needs_process_access(users, make_order, make_image):
    order = make_order(users["other"])
    image = make_image(order)
    for who in ("Viewer", "norole", "User"):  # "User" is neither creator nor assignee
        with pytest.raises(PermissionDenied):
            services.change_image_status(image, Image.Status.INGESTED, actor=users[who])
    assert Image.objects.get(pk=image.pk).status == Image.Status.UPLOADED
    assert timeline(order) == [(1, Kind.ORDER_CREATED)]

    services.change_image_status(image, Image.Status.INGESTED, actor=None)  # system
    assert Image.objects.get(pk=image.pk).status == Image.Status.INGESTED


def test_images_move_together_with_one_recount_and_one_entry(manager, make_order, make_image):
    """``change_images_status``: the images still in the "from" status move (one left
    elsewhere, one of another order are left as they are), one timeline entry names them,
    the counters are right, and the audit log has an entry per image."""
    order = make_order(manager)
    moving = [make_image(order, Image.Status.PROCESSED) for _ in range(3)]
    elsewhere = make_image(order, Image.Status.NEEDS_REVIEW)
    other = make_image(make_order(manager), Image.Status.PROCESSED)
    before = timeline(order)

    moved = services.change_images_status(
        order.pk,
        [i.pk for i in [*moving, elsewhere, other]],
        Image.Status.PROCESSED,
        Image.Status.SYNCED,
        actor=manager,
        reason="uploaded to the PMR",
    )

    assert moved == sorted(i.pk for i in moving)
    assert set(Image.objects.filter(pk__in=moved).values_list("status", flat=True)) == {
        Image.Status.SYNCED
    }
    assert Image.objects.get(pk=elsewhere.pk).status == Image.Status.NEEDS_REVIEW
    assert Image.objects.get(pk=other.pk).status == Image.Status.PROCESSED
    counts = real_counters(order)
    assert stored_counters(order) == counts
    assert timeline(order) == [*before, (len(before) + 1, Kind.IMAGES_STATUS)]
    entry = OrderEvent.objects.filter(order=order).latest("seq")
    assert entry.actor == manager
    assert entry.payload == {
        "images": moved,
        "count": 3,
        "from": Image.Status.PROCESSED,
        "to": Image.Status.SYNCED,
        "reason": "uploaded to the PMR",
        **counts,
    }
    assert_gapless(order)
    for image in moving:
        (log,) = LogEntry.objects.get_for_object(image).filter(action=LogEntry.Action.UPDATE)
        assert log.changes_dict["status"] == ["processed", "synced"]
        assert log.actor == manager


def test_one_image_moved_together_reads_as_its_own_move(manager, make_order, make_image):
    order = make_order(manager)
    image = make_image(order, Image.Status.PROCESSED)
    moved = services.change_images_status(
        order.pk, [image.pk], Image.Status.PROCESSED, Image.Status.SYNCED
    )
    assert moved == [image.pk]
    entry = OrderEvent.objects.filter(order=order).latest("seq")
    assert (entry.kind, entry.payload["image"]) == (Kind.IMAGE_STATUS, image.pk)
    assert (
        services.change_images_status(
            order.pk, [image.pk], Image.Status.PROCESSED, Image.Status.SYNCED
        )
        == []
    )  # already moved: nothing left in "from"
    assert OrderEvent.objects.filter(order=order).latest("seq").pk == entry.pk


@pytest.mark.parametrize(
    ("current", "new"),
    [(Image.Status.SYNCED, Image.Status.PROCESSED), (Image.Status.PROCESSED, "needs_review")],
)
def test_images_moving_together_are_refused_what_one_would_be(
    manager, make_order, make_image, current, new
):
    order = make_order(manager)
    images = [make_image(order, current) for _ in range(2)]
    before = timeline(order)
    with pytest.raises((TransitionNotAllowed, ValueError)):
        services.change_images_status(order.pk, [i.pk for i in images], current, new)
    assert set(Image.objects.filter(order=order).values_list("status", flat=True)) == {current}
    assert timeline(order) == before


def test_images_moving_together_need_process_access(users, make_order, make_image):
    order = make_order(users["other"])
    images = [make_image(order, Image.Status.PROCESSED) for _ in range(2)]
    with pytest.raises(PermissionDenied):
        services.change_images_status(
            order.pk,
            [i.pk for i in images],
            Image.Status.PROCESSED,
            Image.Status.SYNCED,
            actor=users["Viewer"],
        )
    assert set(Image.objects.filter(order=order).values_list("status", flat=True)) == {
        Image.Status.PROCESSED
    }


def test_counters_follow_a_sequence_of_image_moves(users, make_order, make_image):
    order = make_order(users["User"])
    images = [make_image(order) for _ in range(4)]
    S = Image.Status
    moves = [
        (0, S.INGESTED),
        (0, S.PROCESSED),
        (0, S.SYNCED),
        (1, S.REJECTED),
        (2, S.FAILED),
        (3, S.INGESTED),
        (3, S.NEEDS_REVIEW),
        (2, S.UPLOADED),
    ]
    for index, status in moves:
        services.change_image_status(images[index], status)
        assert stored_counters(order) == real_counters(order)
    assert stored_counters(order) == {
        "total_images": 4,
        "ingested_images": 2,
        "processed_images": 1,
        "synced_images": 1,
        "rejected_images": 1,
        "failed_images": 0,
        "review_images": 1,
    }
    assert_gapless(order)
    assert len(timeline(order)) == 1 + len(moves)


# --- update_order ---------------------------------------------------------------


def test_update_order_changes_editable_fields_and_records_them(users, make_order, event):
    order = make_order(users["User"])
    other_event = type(event).objects.create(event_id="EVT-OTHER", name="Other")

    updated = services.update_order(
        order,
        actor=users["User"],
        customer_name="New Name",
        customer_email=" New@Example.com ",
        event=other_event,
        notes=order.notes,  # unchanged: not recorded
    )

    stored = Order.objects.get(pk=order.pk)
    assert (stored.customer_name, stored.customer_email, stored.event) == (
        "New Name",
        "new@example.com",
        other_event,
    )
    assert updated.customer_name == "New Name"
    last = OrderEvent.objects.filter(order=order).latest("seq")
    assert last.kind == Kind.ORDER_UPDATED
    assert last.payload == {"fields": ["customer_email", "customer_name", "event"]}
    assert last.actor == users["User"]
    assert_gapless(order)


def test_update_order_without_changes_records_nothing(users, make_order):
    order = make_order(users["User"])
    services.update_order(order, actor=users["User"], customer_name=order.customer_name)
    assert timeline(order) == [(1, Kind.ORDER_CREATED)]


@pytest.mark.parametrize(
    "field", ["status", "order_ref", "total_images", "created_by", "assigned_to", "last_event_seq"]
)
def test_update_order_refuses_non_editable_fields(users, make_order, field):
    order = make_order(users["Manager"])
    before = Order.objects.values().get(pk=order.pk)
    with pytest.raises(OrderError, match=field):
        services.update_order(order, actor=users["Manager"], **{field: None})
    assert Order.objects.values().get(pk=order.pk) == before
    assert timeline(order) == [(1, Kind.ORDER_CREATED)]


@pytest.mark.parametrize("status", sorted(Order.CLOSED))
def test_update_order_refuses_closed_orders(manager, order_in, status):
    order = order_in(status)
    with pytest.raises(OrderError, match="can no longer be edited"):
        services.update_order(order, actor=manager, customer_name="Changed")
    stored = Order.objects.get(pk=order.pk)
    assert stored.customer_name == "Test Customer"
    assert timeline(order) == [(1, Kind.ORDER_CREATED)]


@pytest.mark.parametrize("status", sorted(set(Order.Status.values) - Order.CLOSED))
def test_update_order_allowed_on_open_orders(manager, order_in, status):
    order = order_in(status)
    services.update_order(order, actor=manager, notes="more")
    assert Order.objects.get(pk=order.pk).notes == "more"


def test_update_order_enforces_access(users, make_order):
    order = make_order(users["other"])
    for who in ("Viewer", "norole", "User"):
        with pytest.raises(PermissionDenied):
            services.update_order(order, actor=users[who], notes="sneaky")
    assert Order.objects.get(pk=order.pk).notes == ""
    services.update_order(order, actor=users["Manager"], notes="fine")
    assert Order.objects.get(pk=order.pk).notes == "fine"


# --- assign_order ---------------------------------------------------------------


def test_assign_order_records_from_and_to(users, make_order):
    order = make_order(users["User"])
    services.assign_order(order, users["other"], actor=users["Manager"])
    services.assign_order(order, None, actor=users["Admin"])

    assert Order.objects.get(pk=order.pk).assigned_to is None
    entries = list(OrderEvent.objects.filter(order=order, kind=Kind.ORDER_ASSIGNED).order_by("seq"))
    assert [(e.payload, e.actor) for e in entries] == [
        ({"from": None, "to": users["other"].pk}, users["Manager"]),
        ({"from": users["other"].pk, "to": None}, users["Admin"]),
    ]
    assert_gapless(order)


@pytest.mark.parametrize("who", ["User", "Viewer", "norole"])
def test_assign_order_needs_the_assign_permission(users, make_order, who):
    order = make_order(users["User"])  # even the creator may not assign
    with pytest.raises(PermissionDenied):
        services.assign_order(order, users["other"], actor=users[who])
    assert Order.objects.get(pk=order.pk).assigned_to is None
    assert timeline(order) == [(1, Kind.ORDER_CREATED)]


@pytest.mark.parametrize("closed", [Order.Status.CANCELLED, Order.Status.COMPLETED])
def test_assign_order_refused_on_closed_orders(users, make_order, closed):
    order = make_order(users["Manager"])
    Order.objects.filter(pk=order.pk).update(status=closed)
    with pytest.raises(OrderError, match="can no longer be assigned"):
        services.assign_order(order, users["other"], actor=users["Manager"])
    assert Order.objects.get(pk=order.pk).assigned_to is None
    assert timeline(order) == [(1, Kind.ORDER_CREATED)]


def test_access_is_checked_against_the_stored_order_not_a_stale_copy(users, make_order):
    order = make_order(users["Manager"], assigned_to=users["User"])
    stale = Order.objects.get(pk=order.pk)
    services.assign_order(order, users["other"], actor=users["Manager"])
    # ``stale`` still says the order is assigned to User; the database says otherwise.
    with pytest.raises(PermissionDenied):
        services.update_order(stale, actor=users["User"], notes="not mine any more")
    with pytest.raises(PermissionDenied):
        services.change_order_status(stale, Order.Status.PENDING, actor=users["User"])


# --- timeline -------------------------------------------------------------------


def test_timeline_is_numbered_one_to_n_per_order(users, make_order, make_image):
    a = make_order(users["Manager"])
    b = make_order(users["Manager"])
    image = make_image(a)
    services.change_order_status(a, Order.Status.PENDING, actor=users["Manager"])
    services.update_order(b, actor=users["Manager"], notes="x")
    services.change_image_status(image, Image.Status.INGESTED)
    services.assign_order(a, make_user(USER), actor=users["Manager"])
    services.change_order_status(b, Order.Status.CANCELLED, actor=users["Manager"])
    services.record_event(a, "custom.note", {"text": "hi"})

    assert timeline(a) == [
        (1, Kind.ORDER_CREATED),
        (2, Kind.ORDER_STATUS),
        (3, Kind.IMAGE_STATUS),
        (4, Kind.ORDER_ASSIGNED),
        (5, "custom.note"),
    ]
    assert timeline(b) == [(1, Kind.ORDER_CREATED), (2, Kind.ORDER_UPDATED), (3, Kind.ORDER_STATUS)]
    assert_gapless(a)
    assert_gapless(b)
