"""``manage.py import_folder``: folders of real photos become orders through intake."""

from __future__ import annotations

import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from accounts.roles import ADMIN, USER, VIEWER
from ai_processing.models import ProcessingPreset
from orders import folder_import
from orders.models import Image, Order, OrderEvent
from tests.conftest import make_user

from .conftest import IMPORTED, REJECTED, fill_order_folder


def run(*args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_folder", *[str(a) for a in args], stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_find_files_skips_hidden_files_and_links(order_folder):
    found = {str(p.relative_to(order_folder)) for p in folder_import.find_files(order_folder)}
    assert found == IMPORTED | REJECTED


def test_a_folder_becomes_one_order(order_folder, event, admin, media_root):
    out, _ = run(order_folder, "--event", event.event_id, "--email", "Smith@Example.com")

    order = Order.objects.get()
    assert order.customer_name == "Smith family"
    assert order.customer_email == "smith@example.com"
    assert order.event == event
    assert order.created_by == admin
    assert order.metadata["import"] == {"source": "folder", "folder": "Smith family"}
    assert order.status == Order.Status.PENDING

    uploaded = order.images.filter(status=Image.Status.UPLOADED)
    rejected = order.images.filter(status=Image.Status.REJECTED)
    assert uploaded.count() == 4
    assert sorted(uploaded.values_list("original_filename", flat=True)) == sorted(
        Path(n).name for n in IMPORTED
    )
    assert sorted(rejected.values_list("original_filename", flat=True)) == [
        "empty.jpg",
        "rocket-copy.jpg",
    ]
    for image in uploaded:
        assert os.path.getsize(os.path.join(media_root, image.original.name)) == image.file_size
    assert (order.total_images, order.rejected_images) == (6, 2)

    assert order.order_ref in out
    assert "4 added, 2 rejected" in out
    assert "rejected  empty.jpg: File is empty (0 bytes)." in out
    assert "rejected  more/rocket-copy.jpg: Exact duplicate of rocket.jpg; stored once." in out
    assert "Done: 1 order(s), 4 file(s) added, 2 rejected." in out
    # The folder itself is left as it was.
    assert (order_folder / "empty.jpg").exists()
    assert (order_folder / "more" / "rocket-copy.jpg").exists()


def test_ingest_is_queued_for_every_stored_file(
    order_folder, event, admin, django_capture_on_commit_callbacks, monkeypatch
):
    from orders import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.ingest_image, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        run(order_folder, "--event", event.event_id)
    # One ingest per stored file, queued on commit like any upload (not run here).
    stored = Order.objects.get().images.filter(status=Image.Status.UPLOADED)
    assert sorted(queued) == sorted(stored.values_list("pk", flat=True))
    assert len(queued) == 4


def test_timeline_records_each_file(order_folder, event, admin):
    run(order_folder, "--event", event.event_id)
    kinds = list(Order.objects.get().timeline.values_list("kind", flat=True))
    assert kinds.count(OrderEvent.Kind.IMAGE_ADDED) == 4
    assert kinds.count(OrderEvent.Kind.IMAGE_STATUS) == 2  # the two refused files


def test_customer_preset_and_user_options(order_folder, event, admin):
    user = make_user(USER, username="photographer")
    preset = ProcessingPreset.objects.filter(is_active=True).first()
    run(
        order_folder,
        "--event",
        event.event_id,
        "--customer",
        "  Jane   Smith ",
        "--user",
        "photographer",
        "--preset",
        preset.slug,
    )
    order = Order.objects.get()
    assert (order.customer_name, order.created_by, order.preset) == ("Jane Smith", user, preset)


def test_default_user_is_the_first_admin(order_folder, event, db):
    make_user(USER)
    first = make_user(ADMIN)
    make_user(ADMIN)
    run(order_folder, "--event", event.event_id)
    assert Order.objects.get().created_by == first


def test_a_superuser_counts_as_admin(order_folder, event, db):
    from accounts.models import User

    boss = User.objects.create_superuser("boss", "boss@test.example", "pw")
    make_user(ADMIN)
    run(order_folder, "--event", event.event_id)
    assert Order.objects.get().created_by == boss


def test_per_subfolder_makes_one_order_each(tmp_path, event, admin):
    root = tmp_path / "drop"
    fill_order_folder(root / "Anna")
    fill_order_folder(root / "Ben")
    (root / "empty one").mkdir()
    (root / ".trash").mkdir()
    fill_order_folder(root / ".trash" / "old")
    (root / "loose.jpg").write_bytes(b"loose")

    out, err = run(root, "--event", event.event_id, "--per-subfolder", "--no-progress")

    # Names are encrypted at rest: the database cannot sort by them, Python can.
    orders = sorted(Order.objects.all(), key=lambda o: o.customer_name)
    assert [o.customer_name for o in orders] == ["Anna", "Ben"]
    for order in orders:
        assert order.images.filter(status=Image.Status.UPLOADED).count() == 4
        assert order.images.filter(status=Image.Status.REJECTED).count() == 2
        assert order.order_ref in out
    assert "Done: 2 order(s), 8 file(s) added, 4 rejected." in out
    assert "1 file(s) directly in" in err
    assert "empty one" in err


def test_per_subfolder_customer_option_overrides_the_names(tmp_path, event, admin):
    root = tmp_path / "drop"
    fill_order_folder(root / "a")
    run(root, "--event", event.event_id, "--per-subfolder", "--customer", "School X")
    assert Order.objects.get().customer_name == "School X"


def test_unknown_event_is_a_clear_error(order_folder, admin):
    with pytest.raises(CommandError, match=r"Unknown Event ID 'NOPE-1'"):
        run(order_folder, "--event", "NOPE-1")
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--user", "ghost"], "No active user named 'ghost'"),
        (["--user", "{viewer}"], "may not create orders"),
        (["--preset", "no-such-preset"], "Unknown or inactive processing preset"),
        (["--email", "not-an-address"], "not a valid e-mail address"),
    ],
)
def test_bad_options_are_clear_errors(order_folder, event, admin, extra, message):
    viewer = make_user(VIEWER)
    extra = [viewer.username if a == "{viewer}" else a for a in extra]
    with pytest.raises(CommandError, match=message):
        run(order_folder, "--event", event.event_id, *extra)
    assert not Order.objects.exists()


def test_without_any_admin_the_user_must_be_named(order_folder, event, db):
    make_user(USER)
    with pytest.raises(CommandError, match="pass --user"):
        run(order_folder, "--event", event.event_id)


def test_missing_or_empty_folders(tmp_path, event, admin):
    with pytest.raises(CommandError, match="is not a folder"):
        run(tmp_path / "nope", "--event", event.event_id)
    (tmp_path / "empty" / ".hidden").mkdir(parents=True)
    (tmp_path / "empty" / ".hidden" / "x.jpg").write_bytes(b"x")
    with pytest.raises(CommandError, match="No files to import"):
        run(tmp_path / "empty", "--event", event.event_id)
    with pytest.raises(CommandError, match="No subfolders"):
        run(tmp_path / "empty", "--event", event.event_id, "--per-subfolder")
    assert not Order.objects.exists()


def test_the_service_refuses_actors_who_may_not_create_orders(order_folder, event, admin):
    viewer = make_user(VIEWER)
    with pytest.raises(PermissionDenied):
        folder_import.import_folder(order_folder, event=event, actor=viewer)
    assert not Order.objects.exists()
