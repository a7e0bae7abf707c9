"""Customers' personal data is encrypted at rest: the database holds ciphertext and a keyed
hash, the application reads plain text, keys rotate, e-mail lookups still work."""

from __future__ import annotations

import hashlib
import hmac
import io

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from orders import services
from orders.models import Order
from utilities.config import new_fernet_key, new_hash_key
from utilities.encrypted_fields import UndecryptableValue

pytestmark = pytest.mark.django_db

NAME = "Zoë Öztürk-Lindqvist"
EMAIL = "zoe.lindqvist@studio.example"
NOTES = "Allergic to flash; call before 9"
KEY_A, KEY_B = new_fernet_key(), new_fernet_key()


def raw_row(order: Order) -> dict[str, str]:
    """The row as the database holds it, read past the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT customer_name, customer_email, notes, customer_email_hash "
            "FROM orders_order WHERE id = %s",
            [order.pk],
        )
        name, email, notes, digest = cursor.fetchone()
    return {"name": name, "email": email, "notes": notes, "hash": digest}


def expected_hash(email: str, key: str) -> str:
    return hmac.new(key.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def order(users, make_order):
    return make_order(users["User"], customer_name=NAME, customer_email=EMAIL, notes=NOTES)


def test_the_database_holds_no_plain_text_and_the_orm_reads_it(order, settings):
    raw = raw_row(order)
    stored = " ".join(raw.values())
    for plain in (NAME, EMAIL, NOTES, "Zoë", "lindqvist", "studio.example", "flash"):
        assert plain.lower() not in stored.lower()
    assert raw["name"].startswith("gAAAAA")  # a Fernet token
    # The hash is HMAC-SHA256 of the lower-cased address with FIELD_HASH_KEY, nothing weaker.
    assert raw["hash"] == expected_hash(EMAIL, settings.FIELD_HASH_KEY)
    assert raw["hash"] != hashlib.sha256(EMAIL.encode()).hexdigest()

    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.customer_name, fresh.customer_email, fresh.notes) == (NAME, EMAIL, NOTES)
    assert list(Order.objects.filter(pk=order.pk).values_list("customer_name", flat=True)) == [NAME]


def test_the_same_value_encrypts_differently_each_time(users, make_order):
    one = make_order(users["User"], customer_name=NAME)
    two = make_order(users["User"], customer_name=NAME)
    assert raw_row(one)["name"] != raw_row(two)["name"]


def test_an_order_without_e_mail_or_notes_stores_them_empty(users, make_order):
    bare = make_order(users["User"], customer_name=NAME)
    raw = raw_row(bare)
    assert (raw["email"], raw["notes"], raw["hash"]) == ("", "", "")
    fresh = Order.objects.get(pk=bare.pk)
    assert (fresh.customer_email, fresh.notes) == ("", "")
    assert not Order.objects.for_customer_email("").exists()


def test_for_customer_email_matches_the_whole_address_in_any_case(order, users, make_order):
    other = make_order(users["Manager"], customer_email="someone@else.example")
    assert list(Order.objects.for_customer_email(EMAIL)) == [order]
    assert list(Order.objects.for_customer_email("  ZOE.Lindqvist@STUDIO.example ")) == [order]
    assert list(Order.objects.for_customer_email("someone@else.example")) == [other]
    assert not Order.objects.for_customer_email("zoe.lindqvist@studio").exists()
    # A queryset method: it narrows like any other (the access rule first, here).
    assert not Order.objects.visible_to(users["other"]).for_customer_email(EMAIL).exists()
    assert list(Order.objects.visible_to(users["User"]).for_customer_email(EMAIL)) == [order]


def test_editing_the_address_keeps_its_hash_in_step(order, users, settings):
    services.update_order(order, actor=users["User"], customer_email="New@Studio.example")
    assert raw_row(order)["hash"] == expected_hash("new@studio.example", settings.FIELD_HASH_KEY)
    assert list(Order.objects.for_customer_email("new@studio.example")) == [order]
    assert not Order.objects.for_customer_email(EMAIL).exists()
    # A save that names only the e-mail among its fields writes the hash too.
    order.refresh_from_db()
    order.customer_email = "third@studio.example"
    order.save(update_fields=["customer_email"])
    assert list(Order.objects.for_customer_email("THIRD@studio.example")) == [order]


def test_rotation_reencrypt_moves_every_row_to_the_new_key(users, make_order):
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        order = make_order(users["User"], customer_name=NAME, customer_email=EMAIL, notes=NOTES)
        under_a = raw_row(order)
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]),
        pytest.raises(UndecryptableValue, match="customer_name"),
    ):
        Order.objects.get(pk=order.pk)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        assert Order.objects.get(pk=order.pk).customer_name == NAME  # old key still reads
        call_command("reencrypt", stdout=io.StringIO())
    under_b = raw_row(order)
    assert under_b["name"] != under_a["name"]
    assert under_b["hash"] == under_a["hash"]  # the hash key did not change
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]):
        fresh = Order.objects.get(pk=order.pk)
        assert (fresh.customer_name, fresh.customer_email, fresh.notes) == (NAME, EMAIL, NOTES)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]), pytest.raises(UndecryptableValue):
        Order.objects.get(pk=order.pk)


def test_reencrypt_recomputes_the_hashes_after_a_hash_key_change(order):
    new_key = new_hash_key()
    with override_settings(FIELD_HASH_KEY=new_key):
        assert not Order.objects.for_customer_email(EMAIL).exists()  # stale until reencrypt
        call_command("reencrypt", stdout=io.StringIO())
        assert list(Order.objects.for_customer_email(EMAIL)) == [order]
    assert raw_row(order)["hash"] == expected_hash(EMAIL, new_key)


def test_reencrypt_stops_at_a_row_no_key_decrypts_and_writes_nothing_of_it(users, make_order):
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        lost = make_order(users["User"], customer_name=NAME)
    kept = make_order(users["User"], customer_name="Readable")
    before = raw_row(kept)
    with pytest.raises(CommandError, match="does not decrypt"):
        call_command("reencrypt", "--batch-size", "10")
    assert raw_row(kept) == before
    assert raw_row(lost)["name"]  # untouched, still A's ciphertext
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        assert Order.objects.get(pk=lost.pk).customer_name == NAME


def test_the_audit_log_records_that_a_customer_field_changed_not_its_value(order, users):
    services.update_order(
        order, actor=users["User"], customer_name="Another Name", notes="Secret note"
    )
    texts = [str(e.changes) for e in LogEntry.objects.get_for_object(order)]
    joined = " ".join(texts)
    for plain in (NAME, "Another Name", "Secret note", NOTES, EMAIL):
        assert plain not in joined
    assert any("customer_name" in t and "(encrypted)" in t for t in texts)


def test_the_admin_finds_an_order_by_its_customers_whole_address(client, users, order):
    client.force_login(users["Manager"])
    url = "/admin/orders/order/"
    for term in (EMAIL.upper(), f"  {EMAIL} ", order.order_ref):
        response = client.get(url, {"q": term})
        assert response.status_code == 200
        assert [o.pk for o in response.context["cl"].result_list] == [order.pk], term
    for term in ("Zoë", "studio.example", "nobody@studio.example"):
        assert list(client.get(url, {"q": term}).context["cl"].result_list) == [], term
    # The access rule still narrows the search: a User's own order is not another's.
    client.force_login(users["other"])
    assert client.get(url, {"q": EMAIL}).status_code == 302  # no admin for Users at all


def test_web_push_keys_are_encrypted_at_rest(users):
    from notifications.models import PushSubscription

    sub = PushSubscription.objects.create(
        user=users["User"],
        endpoint="https://fcm.googleapis.com/fcm/send/abc",
        p256dh="BPublicKeyOfTheBrowser",
        auth="authSecret16bytes",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p256dh, auth FROM notifications_pushsubscription WHERE id = %s", [sub.pk]
        )
        p256dh, auth = cursor.fetchone()
    assert "BPublicKey" not in p256dh
    assert "authSecret" not in auth
    fresh = PushSubscription.objects.get(pk=sub.pk)
    assert (fresh.p256dh, fresh.auth) == ("BPublicKeyOfTheBrowser", "authSecret16bytes")


def test_the_database_is_never_asked_to_compare_an_encrypted_field(order):
    """A filter on ciphertext would silently match nothing: it is refused, naming the way."""
    from django.core.exceptions import FieldError

    for lookup in ({"customer_email": EMAIL}, {"customer_name__icontains": "zo"}):
        with pytest.raises(FieldError, match="for_customer_email"):
            list(Order.objects.filter(**lookup))
    assert Order.objects.filter(notes__isnull=False).exists()


def test_the_admin_list_does_not_offer_sorting_by_customer(client, users, order):
    client.force_login(users["Manager"])
    response = client.get("/admin/orders/order/")
    assert "customer_name" not in response.context["cl"].sortable_by


def test_a_bulk_update_of_the_address_keeps_its_hash_in_step(order):
    """Blanking addresses in bulk (erasure, retention) must not leave the old hash behind."""
    Order.objects.filter(pk=order.pk).update(customer_email="", customer_name="[erased]")
    assert raw_row(order)["hash"] == ""
    assert not Order.objects.for_customer_email(EMAIL).exists()
    assert Order.objects.get(pk=order.pk).customer_name == "[erased]"
    Order.objects.filter(pk=order.pk).update(customer_email="Back@Studio.example")
    assert list(Order.objects.for_customer_email("back@studio.example")) == [order]
