"""The optional e-mail to the customer on delivery: off by default, on per event or per order,
its text edited by Managers in the back office (placeholders filled safely), sent once, in the
timeline, audited."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.core import mail
from django.core.exceptions import ValidationError

from notifications import customer_email
from notifications.models import CustomerEmail, CustomerEmailSwitch, CustomerEmailTemplate
from orders.models import OrderEvent
from orders.timeline import describe

from .conftest import complete

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(users, make_order):
    made = make_order(users["User"], customer_name="Ada Lovelace", customer_email="ada@example.com")
    complete(made)
    return made


def test_off_by_default(order):
    assert customer_email.send_for(order.pk) == "off"
    assert mail.outbox == []


def test_on_for_the_event_sent_once_with_the_text_filled_in(order):
    CustomerEmailSwitch.objects.create(event=order.event)
    template = CustomerEmailTemplate.current()
    template.subject = "Photos of {event_name}\nBcc: someone@evil.example"
    template.body = "Hello {customer_name}, order {order_ref}: {image_count} photos. {unknown}"
    template.save()

    assert customer_email.send_for(order.pk) == "sent"
    assert customer_email.send_for(order.pk) == "already"

    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == f"Photos of {order.event.name} Bcc: someone@evil.example"  # one line
    assert message.body == f"Hello Ada Lovelace, order {order.order_ref}: 0 photos. {{unknown}}"
    entry = OrderEvent.objects.get(order=order, kind=customer_email.SENT_EVENT)
    assert describe([entry])[0].text == "E-mail sent to the customer"
    record = CustomerEmail.objects.get(order=order)
    assert record.state == "sent"
    assert LogEntry.objects.get_for_object(record).exists()  # audited


def test_the_orders_switch_wins_over_its_events(order):
    CustomerEmailSwitch.objects.create(event=order.event, send=True)
    CustomerEmailSwitch.objects.create(order=order, send=False)
    assert customer_email.send_for(order.pk) == "off"
    assert mail.outbox == []


def test_unknown_placeholders_are_refused_when_edited():
    template = CustomerEmailTemplate.current()
    template.body = "Dear {customer}, {order_ref.__class__}"
    with pytest.raises(ValidationError) as caught:
        template.full_clean()
    assert "{customer}" in str(caught.value)


def test_sent_after_completion_through_the_hook(
    users, make_order, eager_tasks, django_capture_on_commit_callbacks
):
    made = make_order(users["User"], customer_email="grace@example.com")
    CustomerEmailSwitch.objects.create(order=made)
    with django_capture_on_commit_callbacks(execute=True):
        complete(made)
    assert [m.to for m in mail.outbox] == [["grace@example.com"]]


def test_managers_edit_the_text_users_cannot(client, users):
    CustomerEmailTemplate.current()
    manager = users["Manager"]
    client.force_login(manager)
    url = "/admin/notifications/customeremailtemplate/1/change/"
    response = client.post(url, {"subject": "Ready: {order_ref}", "body": "Hi {customer_name}"})
    assert response.status_code == 302, response.content[:2000]
    assert CustomerEmailTemplate.current().subject == "Ready: {order_ref}"
    bad = client.post(url, {"subject": "x", "body": "{nope}"})
    assert bad.status_code == 200
    assert "Unknown placeholder" in bad.content.decode()

    client.force_login(users["User"])
    assert client.get(url).status_code in (302, 403)


def test_the_sent_mail_is_kept_encrypted_and_nowhere_in_plain_text(order):
    """The record of the mail holds the customer's address and name: encrypted at rest, and
    neither the timeline nor the audit log (both plain JSON) repeats them."""
    from django.db import connection

    CustomerEmailSwitch.objects.create(event=order.event)
    template = CustomerEmailTemplate.current()
    template.subject = "Photos for {customer_name}"
    template.body = "Hello {customer_name}"
    template.save()
    assert customer_email.send_for(order.pk) == "sent"
    record = CustomerEmail.objects.get(order=order)
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT "to", subject, body FROM notifications_customeremail WHERE id = %s',
            [record.pk],
        )
        stored = " ".join(cursor.fetchone())
    entry = OrderEvent.objects.get(order=order, kind=customer_email.SENT_EVENT)
    logged = " ".join(
        f"{e.object_repr} {e.changes}" for e in LogEntry.objects.get_for_object(record)
    )
    for plain in ("ada@example.com", "Ada Lovelace"):
        assert plain not in stored
        assert plain not in str(entry.payload)
        assert plain not in logged
    assert (record.to, record.subject, record.body) == (
        "ada@example.com",
        "Photos for Ada Lovelace",
        "Hello Ada Lovelace",
    )
