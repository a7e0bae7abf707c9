"""Shared fixtures: one user per role, events and orders made through the services."""

from __future__ import annotations

import importlib
import itertools
import os

import pytest

from accounts import services as account_services
from accounts.models import User
from accounts.roles import ADMIN, MANAGER, USER, VIEWER
from events.models import Event
from orders import services as order_services
from orders.models import Order

# Playwright's sync API runs an event loop in the test thread; the ORM calls the
# tests make around it are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROLE_NAMES = (ADMIN, MANAGER, USER, VIEWER)
PRINT_SIZES_SEED = importlib.import_module("orders.migrations.0008_seed_print_sizes")


@pytest.fixture(autouse=True)
def _seeded_print_sizes(request):
    """The print sizes a studio starts with, in every test that uses the database: they come
    from a data migration, and a transactional test's flush empties the table for the tests
    after it (in the same process), which would then find no "8x10"."""
    marker = request.node.get_closest_marker("django_db")
    if "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction")
    ):
        request.getfixturevalue("transactional_db")  # set up before the seed, not after
    elif "db" in request.fixturenames or marker is not None:
        request.getfixturevalue("db")
    else:
        return
    from django.apps import apps

    from orders.models import PrintSize

    if PrintSize.objects.count() < len(PRINT_SIZES_SEED.SIZES):
        PRINT_SIZES_SEED.seed(apps, None)


_counter = itertools.count(1)


def make_user(role: str | None, username: str | None = None, password: str = "pw") -> User:
    username = username or f"{(role or 'norole').lower()}{next(_counter)}"
    user = User.objects.create_user(username=username, email=f"{username}@test.example")
    user.set_password(password)
    user.save()
    if role:
        account_services.set_role(user, role)
    return User.objects.get(pk=user.pk)  # fresh: no stale permission cache


@pytest.fixture
def users(db) -> dict[str, User]:
    """One active user per role, plus ``other`` (a second User) and ``norole``."""
    made = {role: make_user(role) for role in ROLE_NAMES}
    made["other"] = make_user(USER)
    made["norole"] = make_user(None)
    return made


@pytest.fixture
def event(db) -> Event:
    return Event.objects.create(event_id=f"EVT-{next(_counter):04d}", name="Test event")


@pytest.fixture
def make_order(event):
    def _make(created_by: User, **kwargs):
        kwargs.setdefault("customer_name", "Test Customer")
        return order_services.create_order(actor=created_by, event=event, **kwargs)

    return _make


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in this process (unit tests; the worker tests cover the queue)."""
    from rkh_site.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    app.conf.update(task_always_eager=before[0], task_eager_propagates=before[1])


def orders_of_customer(name: str) -> list[Order]:
    """The orders whose customer is called ``name``: compared in Python, as names are encrypted
    at rest and the database cannot compare them."""
    return [o for o in Order.objects.order_by("id") if o.customer_name == name]


# --- media in an S3-compatible store (moto's server, started by the tests) -----------------


@pytest.fixture(scope="session")
def s3_server():
    """A local S3-compatible server (moto in server mode) on a free port, for the session."""
    from tests.s3_server import running_s3

    with running_s3() as server:
        yield server


@pytest.fixture
def s3_media(settings, s3_server, tmp_path):
    """``MEDIA_STORAGE=s3``: the default storage on a fresh bucket, and MEDIA_ROOT an empty
    folder that must stay empty (checked after the test). Yields (server, bucket)."""
    bucket = s3_server.new_bucket()
    local = tmp_path / "media-must-stay-empty"
    local.mkdir()
    settings.MEDIA_ROOT = str(local)
    settings.MEDIA_STORAGE = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": s3_server.storage_settings(bucket)}
    yield s3_server, bucket
    # Other fixtures (media_root) may have pointed MEDIA_ROOT elsewhere: both stay empty.
    roots = {str(local), str(settings.MEDIA_ROOT)}
    left = [os.path.join(d, n) for r in roots for d, _s, names in os.walk(r) for n in names]
    assert left == [], f"media were written to local disk: {left}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, with its other sessions ended before it is dropped.

    Async tests read the database from asgiref's executor thread (consumers, the live
    server's threads); a connection such a thread still holds from the pool at the end is
    not closed by Django's ``close_pool`` (psycopg_pool closes only the connections returned
    to it), and the drop then failed with "database … is being accessed by other users",
    leaving the test database behind (seen in CI as a teardown warning).
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock():
        connection.close()
        connection.close_pool()  # first, so the pool opens nothing after the sessions end
    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        )
