"""Orders and images are audited with django-auditlog; derived counters are not."""

from __future__ import annotations

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from orders import services
from orders.models import Image, Order

Action = LogEntry.Action


def entries(model, pk) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model), object_pk=str(pk)
        ).order_by("pk")
    )


def test_order_create_update_delete_are_audited(manager, make_order):
    order = make_order(manager, customer_name="First")
    pk = order.pk
    assert [e.action for e in entries(Order, pk)] == [Action.CREATE]

    services.update_order(order, actor=manager, customer_name="Second")
    services.change_order_status(order, Order.Status.PENDING, actor=manager)
    Order.objects.get(pk=pk).delete()

    log = entries(Order, pk)
    assert [e.action for e in log] == [Action.CREATE, Action.UPDATE, Action.UPDATE, Action.DELETE]
    # Encrypted at rest: the log says the name changed, not what it was (its JSON is plain).
    assert log[1].changes_dict["customer_name"] == ["(encrypted)", "(encrypted)"]
    assert "First" not in str(log[0].changes) + str(log[1].changes)
    assert log[2].changes_dict["status"] == [Order.Status.DRAFT, Order.Status.PENDING]
    assert log[3].object_repr == order.order_ref


def test_image_create_update_delete_are_audited(manager, make_order, make_image):
    order = make_order(manager)
    image = make_image(order)
    pk = image.pk

    services.change_image_status(image, Image.Status.INGESTED, reason="ok")
    Image.objects.get(pk=pk).delete()

    log = entries(Image, pk)
    assert [e.action for e in log] == [Action.CREATE, Action.UPDATE, Action.DELETE]
    assert log[1].changes_dict["status"] == [Image.Status.UPLOADED, Image.Status.INGESTED]


def test_image_steps_do_not_audit_the_orders_counters(manager, make_order, make_image):
    order = make_order(manager)
    images = [make_image(order) for _ in range(3)]
    before = len(entries(Order, order.pk))

    for image in images:
        services.change_image_status(image, Image.Status.INGESTED)

    assert Order.objects.get(pk=order.pk).ingested_images == 3
    assert len(entries(Order, order.pk)) == before


def test_excluded_order_fields_never_show_in_changes(manager, make_order):
    order = make_order(manager)
    order.total_images = 5
    order.processed_images = 2
    order.last_event_seq = 9
    order.notes = "visible"
    order.save()

    update = entries(Order, order.pk)[-1]
    assert update.action == Action.UPDATE
    assert set(update.changes_dict) == {"notes"}
