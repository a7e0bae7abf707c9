"""A customer's data: retention, export and erasure on request (``orders.privacy``).

Every order here is made through the services (so auditlog, the timeline and the PMR outbox
hold copies of the customer's name and address, as in production) and has real files on
disk; erasure runs its after-commit file deletion (``django_capture_on_commit_callbacks``).
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from events import lookups
from events.models import Event
from notifications.models import CustomerEmail, Notification
from orders import privacy, services, tasks
from orders.models import Image, Order, OrderEvent
from pmr import outbox
from pmr.models import OutboxEntry
from utilities.audit import ERASED
from utilities.errors import OrderError

ANNA = ("Anna Berg", "anna.berg@example.com")
FILE_FIELDS = ("original", "preview", "thumbnail", "processed")
BOB = ("Bob Marsh", "bob.marsh@example.org")


@pytest.fixture
def customer_order(manager, event, make_image):
    """An order of a customer with two images (original, preview, thumbnail and processed
    file each), an edit of its notes, a PMR order row, a staff notification and the e-mail
    sent to the customer; then put into ``status``, closed ``days_ago`` days ago."""

    def _make(
        customer=ANNA,
        *,
        status: str = Order.Status.COMPLETED,
        days_ago: int = 100,
        on_event: Event | None = None,
    ) -> Order:
        name, email = customer
        order = services.create_order(
            actor=manager,
            event=on_event or event,
            customer_name=name,
            customer_email=email,
            notes=f"Call {name}",
        )
        services.update_order(order, actor=manager, notes=f"Ring {name} at {email}")
        for n in (1, 2):
            image = make_image(order, Image.Status.SYNCED, name=f"{name.split()[0]}_{n}.jpg")
            for field in ("preview", "thumbnail", "processed"):
                getattr(image, field).save(f"{field}.jpg", ContentFile(f"{field} {n}".encode()))
            image.metadata = {"exif": {"Artist": name}}
            image.ai_metadata = {"caption": f"{name} smiling", "trail": {"analyze": []}}
            image.save()
            services.record_event(
                order, OrderEvent.Kind.IMAGE_ADDED, {"filename": image.original_filename}
            )
        order.refresh_from_db()
        outbox.put_order(order)
        Notification.objects.create(
            user=manager,
            kind="order_completed",
            source_key=f"test:{order.pk}",
            order=order,
            title=f"Order {order.order_ref} completed",
            body=f"{name} · event {order.event.event_id}",
        )
        CustomerEmail.objects.create(
            order=order, to=email, subject="Your photos", body=f"Dear {name}, ..."
        )
        closed = timezone.now() - timedelta(days=days_ago)
        if status == Order.Status.CANCELLED:
            services.change_order_status(order, Order.Status.CANCELLED, actor=manager)
            OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.ORDER_STATUS).update(
                created_at=closed
            )
        else:
            Order.objects.filter(pk=order.pk).update(
                status=status,
                completed_at=closed if status == Order.Status.COMPLETED else None,
                pmr_synced=status == Order.Status.COMPLETED,
            )
        order.refresh_from_db()
        return order

    return _make


def stored_files(order: Order) -> list[Path]:
    return [
        Path(django_settings.MEDIA_ROOT) / getattr(image, field).name
        for image in Image.objects.filter(order=order)
        for field in FILE_FIELDS
        if getattr(image, field).name
    ]


def log_entries(order: Order) -> list[LogEntry]:
    """Every audit entry about the order, its images, its outbox rows, its customer e-mail."""
    objects = [
        (Order, [order.pk]),
        (Image, list(Image.objects.filter(order=order).values_list("pk", flat=True))),
        (OutboxEntry, list(OutboxEntry.objects.filter(order=order).values_list("pk", flat=True))),
        (
            CustomerEmail,
            list(CustomerEmail.objects.filter(order=order).values_list("pk", flat=True)),
        ),
    ]
    entries = []
    for model, pks in objects:
        entries += LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_pk__in=[str(pk) for pk in pks],
        )
    return entries


def everything_about(order: Order) -> str:
    """Every stored text about the order, lowercased: rows, timeline, outbox, notifications,
    the customer e-mail and the audit entries (``changes``, ``object_repr`` and the rest)."""
    order = Order.objects.get(pk=order.pk)
    parts = [order.customer_name, order.customer_email, order.notes, json.dumps(order.metadata)]
    for image in Image.objects.filter(order=order):
        parts += [image.original_filename, json.dumps(image.metadata)]
        parts += [json.dumps(image.ai_metadata), image.status_reason]
    parts += [json.dumps(e.payload) for e in OrderEvent.objects.filter(order=order)]
    for row in OutboxEntry.objects.filter(order=order):
        parts += [json.dumps(row.payload), json.dumps(row.response), json.dumps(row.last_error)]
    for note in Notification.objects.filter(order=order):
        parts += [note.title, note.body]
    for email in CustomerEmail.objects.filter(order=order):
        parts += [email.to, email.subject, email.body, str(email)]
    for entry in log_entries(order):
        parts += [entry.object_repr, json.dumps(entry.changes), entry.changes_text or ""]
        parts += [json.dumps(entry.additional_data), json.dumps(entry.serialized_data)]
    return "\n".join(str(p) for p in parts).lower()


def assert_erased(order: Order, customer=ANNA) -> None:
    name, email = customer
    order.refresh_from_db()
    assert order.erased_at is not None
    assert (order.customer_name, order.customer_email, order.notes) == (ERASED, "", ERASED)
    text = everything_about(order)
    assert email.lower() not in text
    assert name.lower() not in text
    assert name.split()[0].lower() not in text  # "Anna_1.jpg", "Ring Anna at …"
    for image in Image.objects.filter(order=order):
        assert [getattr(image, f).name for f in FILE_FIELDS] == ["", "", "", ""]
        assert image.original_filename == ERASED
        assert image.ai_metadata == {"trail": {"analyze": []}}  # analytics keeps the trail
    (entry,) = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.ORDER_ERASED)
    assert entry.payload["files"] == 8


def assert_untouched(order: Order, customer=ANNA) -> None:
    name, email = customer
    order.refresh_from_db()
    assert order.erased_at is None
    assert (order.customer_name, order.customer_email) == (name, email)
    assert len(stored_files(order)) == 8
    assert all(path.exists() for path in stored_files(order))
    assert email in everything_about(order)


# --- the lookup ----------------------------------------------------------------------------


def test_orders_are_found_by_the_customers_address_in_any_case(customer_order):
    anna, bob = customer_order(ANNA), customer_order(BOB)
    Order.objects.filter(pk=bob.pk).update(customer_email="anna.berg@example.com.au")

    assert list(Order.objects.for_customer_email(" Anna.Berg@EXAMPLE.com ")) == [anna]
    assert not Order.objects.for_customer_email("")


# --- retention -------------------------------------------------------------------------------


def test_a_dry_run_reports_and_changes_nothing(customer_order):
    order = customer_order(ANNA, days_ago=100)
    files = stored_files(order)
    size = sum(path.stat().st_size for path in files)
    entries_before = LogEntry.objects.count()

    out = io.StringIO()
    call_command("apply_retention", "--dry-run", stdout=out)

    report = out.getvalue()
    assert order.order_ref in report
    assert f"8 file(s), {size} bytes" in report
    assert "1 order(s) would be erased" in report
    assert "dry run" in report
    assert_untouched(order)
    assert LogEntry.objects.count() == entries_before
    assert not OrderEvent.objects.filter(kind=OrderEvent.Kind.ORDER_ERASED).exists()


def test_retention_erases_only_expired_closed_orders(
    customer_order, django_capture_on_commit_callbacks
):
    short = Event.objects.create(event_id="EVT-SHORT", name="Short", retention_days=5)
    forever = Event.objects.create(event_id="EVT-KEEP", name="Keep", retention_days=0)
    expired = customer_order(ANNA, days_ago=100)
    cancelled = customer_order(ANNA, status=Order.Status.CANCELLED, days_ago=120)
    short_event = customer_order(ANNA, days_ago=10, on_event=short)
    recent = customer_order(ANNA, days_ago=10)
    in_work = customer_order(ANNA, status=Order.Status.PROCESSING, days_ago=400)
    kept_forever = customer_order(ANNA, days_ago=400, on_event=forever)
    files = {order.pk: stored_files(order) for order in (expired, cancelled, short_event)}

    with django_capture_on_commit_callbacks(execute=True):
        report = privacy.apply_retention()

    assert {e.order_ref for e in report.erased} == {
        expired.order_ref,
        cancelled.order_ref,
        short_event.order_ref,
    }
    assert report.files == 24
    for order in (expired, cancelled, short_event):
        assert_erased(order)
        assert not any(path.exists() for path in files[order.pk]), "files left on disk"
        access = LogEntry.objects.get(
            content_type=ContentType.objects.get_for_model(Order),
            object_pk=str(order.pk),
            action=LogEntry.Action.ACCESS,
        )
        assert access.additional_data["event"] == "erased_personal_data"
        assert access.additional_data["reason"] == "retention"
    for order in (recent, in_work, kept_forever):
        assert_untouched(order)
    # Rows stay for the statistics.
    assert Image.objects.filter(order=expired).count() == 2
    assert Order.objects.get(pk=expired.pk).status == Order.Status.COMPLETED


def test_a_second_run_erases_nothing_more(customer_order, django_capture_on_commit_callbacks):
    order = customer_order(ANNA, days_ago=100)
    with django_capture_on_commit_callbacks(execute=True):
        first = privacy.apply_retention()
    assert len(first.erased) == 1
    entries, timeline = LogEntry.objects.count(), OrderEvent.objects.filter(order=order).count()

    out = io.StringIO()
    call_command("apply_retention", stdout=out)

    assert "0 order(s) erased: 0 file(s), 0 bytes" in out.getvalue()
    assert LogEntry.objects.count() == entries
    assert OrderEvent.objects.filter(order=order).count() == timeline


def test_retention_days_zero_keeps_everything(settings, customer_order):
    settings.RETENTION_DAYS = 0
    order = customer_order(ANNA, days_ago=1000)

    assert privacy.apply_retention().erased == []
    assert_untouched(order)


def test_the_daily_task_applies_retention(
    settings, customer_order, django_capture_on_commit_callbacks
):
    settings.RETENTION_DAYS = 30
    old, young = customer_order(ANNA, days_ago=31), customer_order(ANNA, days_ago=29)
    assert any(
        entry["task"] == "orders.tasks.apply_retention"
        for entry in django_settings.CELERY_BEAT_SCHEDULE.values()
    )

    with django_capture_on_commit_callbacks(execute=True):
        summary = tasks.apply_retention()

    assert summary == {"orders": 1, "files": 8, "bytes": summary["bytes"], "skipped": 0}
    assert summary["bytes"] > 0
    assert_erased(old)
    assert_untouched(young)


# --- a customer's request --------------------------------------------------------------------


def test_export_holds_the_customers_orders_and_files_and_nothing_of_another(
    customer_order, users, tmp_path
):
    first = customer_order(ANNA, days_ago=3)
    second = customer_order(ANNA, status=Order.Status.PROCESSING)
    bob = customer_order(BOB, days_ago=3)
    target = tmp_path / "anna.zip"

    out = io.StringIO()
    call_command("export_customer", "ANNA.Berg@example.com", "--output", str(target), stdout=out)

    assert "2 order(s)" in out.getvalue()
    with zipfile.ZipFile(target) as archive:
        document = json.loads(archive.read("customer.json"))
        names = set(archive.namelist())
        contents = b"".join(archive.read(name) for name in names)
    assert [o["order_ref"] for o in document["orders"]] == [first.order_ref, second.order_ref]
    assert {o["customer_email"] for o in document["orders"]} == {ANNA[1]}
    expected_files = {"customer.json"}
    for order in (first, second):
        for image in Image.objects.filter(order=order):
            for field in ("original", "processed"):
                path = f"orders/{order.order_ref}/images/{image.pk}/{field}.jpg"
                expected_files.add(path)
                with zipfile.ZipFile(target) as archive:
                    assert archive.read(path) == getattr(image, field).read()
    assert names == expected_files
    order_json = document["orders"][0]
    assert [i["original_filename"] for i in order_json["images"]] == ["Anna_1.jpg", "Anna_2.jpg"]
    assert any(e["kind"] == "order.created" for e in order_json["timeline"])
    assert order_json["emails_to_customer"][0]["to"] == ANNA[1]
    for foreign in (BOB[0], BOB[1], bob.order_ref):
        assert foreign.lower().encode() not in contents.lower()
    for image in Image.objects.filter(order=bob):
        assert image.original.read() not in contents
    # Audited per order: who (the command's operator), which address (its fingerprint only).
    for order in (first, second):
        entry = LogEntry.objects.get(
            content_type=ContentType.objects.get_for_model(Order),
            object_pk=str(order.pk),
            action=LogEntry.Action.ACCESS,
        )
        assert entry.additional_data["event"] == "exported_customer_data"
        assert entry.additional_data["customer"] == privacy.email_fingerprint(ANNA[1])
        assert entry.additional_data["via"] == "command"
        assert entry.additional_data["operator"]
        assert ANNA[1] not in json.dumps(entry.additional_data)
    assert_untouched(first)


def test_erasing_a_delivered_order_on_request_works_and_is_audited(
    customer_order, users, django_capture_on_commit_callbacks
):
    delivered = customer_order(ANNA, days_ago=1)
    in_work = customer_order(ANNA, status=Order.Status.PROCESSING)
    bob = customer_order(BOB, days_ago=1)
    admin = users["Admin"]
    with pytest.raises(OrderError, match="delivered"):  # it cannot be deleted
        services.delete_order(delivered, actor=admin)
    files = stored_files(delivered)

    cache.set(lookups.customer_cache_key(ANNA[1]), "CUST-1")  # a recent PMR lookup

    with django_capture_on_commit_callbacks(execute=True):
        report = privacy.erase_customer("Anna.Berg@Example.com", actor=admin, via="admin")

    assert cache.get(lookups.customer_cache_key(ANNA[1])) is None

    assert [e.order_ref for e in report.erased] == [delivered.order_ref]
    assert [ref for ref, _ in report.skipped] == [in_work.order_ref]
    assert_erased(delivered)
    assert not any(path.exists() for path in files)
    assert_untouched(in_work)
    assert_untouched(bob, BOB)
    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(Order),
        object_pk=str(delivered.pk),
        action=LogEntry.Action.ACCESS,
    )
    assert entry.actor == admin
    assert entry.additional_data["event"] == "erased_personal_data"
    assert entry.additional_data["reason"] == "request"
    assert entry.additional_data["customer"] == privacy.email_fingerprint(ANNA[1])
    assert ANNA[1] not in json.dumps(entry.additional_data)


def test_erase_customer_command_dry_run_then_for_real(
    customer_order, django_capture_on_commit_callbacks
):
    order = customer_order(ANNA, days_ago=1)

    out = io.StringIO()
    call_command("erase_customer", ANNA[1], "--dry-run", stdout=out)
    assert order.order_ref in out.getvalue()
    assert "would be erased" in out.getvalue()
    assert_untouched(order)

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("erase_customer", ANNA[1], stdout=out)
    assert "1 order(s) erased: 8 file(s)" in out.getvalue()
    assert privacy.email_fingerprint(ANNA[1]) in out.getvalue()
    assert_erased(order)


def test_a_request_that_finds_nothing_is_audited_without_the_address(db):
    report = privacy.erase_customer("nobody@example.com", via="command")

    assert report.erased == []
    entry = LogEntry.objects.get(action=LogEntry.Action.ACCESS, object_pk="")
    assert entry.additional_data["customer"] == privacy.email_fingerprint("nobody@example.com")
    assert "nobody" not in entry.object_repr + json.dumps(entry.additional_data)


@pytest.mark.parametrize("role", ["Manager", "User", "Viewer"])
def test_only_admins_may_export_or_erase(customer_order, users, role):
    order = customer_order(ANNA, days_ago=1)
    with pytest.raises(PermissionDenied):
        privacy.erase_customer(ANNA[1], actor=users[role])
    with pytest.raises(PermissionDenied):
        privacy.export_customer(ANNA[1], io.BytesIO(), actor=users[role])
    assert_untouched(order)


# --- the order admin's actions ---------------------------------------------------------------

CHANGELIST = "/admin/orders/order/"


def post_action(client, action: str, orders: list[Order], **extra):
    data = {"action": action, "_selected_action": [o.pk for o in orders], **extra}
    return client.post(CHANGELIST, data)


def test_admin_exports_the_customers_data(client, users, customer_order):
    orders = [customer_order(ANNA, days_ago=1), customer_order(ANNA, days_ago=2)]
    customer_order(BOB, days_ago=1)
    client.force_login(users["Admin"])

    response = post_action(client, "export_customer_data", orders[:1])

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    document = json.loads(archive.read("customer.json"))
    # Every order of the address, not only the one selected.
    assert {o["order_ref"] for o in document["orders"]} == {o.order_ref for o in orders}
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk")
    assert entry.actor == users["Admin"]
    assert entry.additional_data["via"] == "admin"


def test_admin_erases_after_a_confirmation_page(
    client, users, customer_order, django_capture_on_commit_callbacks
):
    order = customer_order(ANNA, days_ago=1)
    client.force_login(users["Admin"])

    page = post_action(client, "erase_customer_data", [order])
    assert page.status_code == 200
    html = page.content.decode()
    assert order.order_ref in html
    assert "This cannot be undone" in html
    assert_untouched(order)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(client, "erase_customer_data", [order], confirm="yes")
    assert response.status_code == 302
    assert_erased(order)


def test_admin_refuses_a_selection_of_several_customers(client, users, customer_order):
    orders = [customer_order(ANNA, days_ago=1), customer_order(BOB, days_ago=1)]
    client.force_login(users["Admin"])

    response = post_action(client, "erase_customer_data", orders, confirm="yes")

    assert response.status_code == 302
    for order, customer in zip(orders, (ANNA, BOB), strict=True):
        assert_untouched(order, customer)


def test_managers_have_no_customer_data_actions(client, users, customer_order):
    order = customer_order(ANNA, days_ago=1)
    client.force_login(users["Manager"])

    choices = dict(client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert "erase_customer_data" not in choices
    assert "export_customer_data" not in choices
    assert "cancel_orders" in choices  # the form is there, the two actions are not
    for action in ("erase_customer_data", "export_customer_data"):
        response = post_action(client, action, [order], confirm="yes")
        assert "Content-Disposition" not in response
    assert_untouched(order)


@pytest.mark.parametrize("role", ["User", "Viewer"])
def test_non_staff_cannot_reach_the_actions(client, users, customer_order, role):
    order = customer_order(ANNA, days_ago=1)
    client.force_login(users[role])

    response = post_action(client, "erase_customer_data", [order], confirm="yes")

    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert_untouched(order)
