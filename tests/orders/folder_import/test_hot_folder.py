"""The hot folder: settled order folders become orders; done/, rejected/, failed/; nothing lost."""

from __future__ import annotations

import os
import shutil
import threading
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.roles import VIEWER
from events.models import Event
from orders import hot_folder
from orders.models import Image, Order
from tests.conftest import make_user, orders_of_customer

from .conftest import IMPORTED, PHOTOS, REJECTED, age, fill_order_folder, tree


@pytest.fixture
def hot(tmp_path, event):
    """HOT_FOLDER/<event>/ with one settled order folder and one still being copied."""
    root = tmp_path / "hot"
    event_dir = root / event.event_id
    fill_order_folder(event_dir / "Smith family")
    age(event_dir / "Smith family", 120)
    fill_order_folder(event_dir / "Jones")  # just written: still changing
    return root


def scan(root, actor, **kwargs):
    kwargs.setdefault("settle", 30)
    return hot_folder.scan_once(root, actor=actor, **kwargs)


def test_settled_folders_are_imported_and_filed_under_done(hot, event, admin):
    event_dir = hot / event.event_id
    before = tree(hot)

    report = scan(hot, admin)

    assert [i.result.order.customer_name for i in report.imported] == ["Smith family"]
    assert [w.folder.name for w in report.waiting] == ["Jones"]
    assert report.failed == []
    done = event_dir / "done" / "Smith family"
    assert report.imported[0].done == done
    assert not (event_dir / "Smith family").exists()
    assert (event_dir / "Jones").is_dir()  # untouched

    order = Order.objects.get()
    assert order.event == event
    assert order.created_by == admin
    assert order.metadata["import"]["source"] == "hot_folder"
    assert order.images.filter(status=Image.Status.UPLOADED).count() == len(IMPORTED)
    assert order.images.filter(status=Image.Status.REJECTED).count() == len(REJECTED)

    # Refused files sit in rejected/ beside where they were, each with its reason.
    assert (done / "rejected" / "empty.jpg").read_bytes() == b""
    assert (done / "rejected" / "empty.jpg.reason.txt").read_text() == (
        "File is empty (0 bytes).\n"
    )
    assert (done / "more" / "rejected" / "rocket-copy.jpg").exists()
    assert (
        "Exact duplicate of rocket.jpg"
        in (done / "more" / "rejected" / "rocket-copy.jpg.reason.txt").read_text()
    )
    for name in IMPORTED:
        assert (done / name).exists()

    # Nothing deleted: every file is still somewhere, only reason files were added.
    def moved(path: str) -> str:
        source, target = f"{event.event_id}/Smith family/", f"{event.event_id}/done/Smith family/"
        path = path.replace(source, target)
        for name in REJECTED:
            folder, _, base = name.rpartition("/")
            prefix = f"{event.event_id}/done/Smith family/" + (folder + "/" if folder else "")
            if path == prefix + base:
                return prefix + "rejected/" + base
        return path

    after = tree(hot)
    assert {moved(p) for p in before} == {p for p in after if not p.endswith(".reason.txt")}
    assert len([p for p in after if p.endswith(".reason.txt")]) == len(REJECTED)


def test_a_folder_waits_until_it_stops_changing(hot, event, admin):
    jones = hot / event.event_id / "Jones"
    age(jones, 120)
    recent = time.time() - 5
    os.utime(jones / "more" / "rotated.jpg", (recent, recent))  # one file still being written

    report = scan(hot, admin)

    waiting = {w.folder.name: w.due for w in report.waiting}
    assert set(waiting) == {"Jones"}
    assert waiting["Jones"] == pytest.approx(recent + 30, abs=0.01)
    assert report.next_due == waiting["Jones"]

    later = scan(hot, admin, now=recent + 31)
    assert [i.result.order.customer_name for i in later.imported] == ["Jones"]
    assert later.waiting == []


def test_a_new_entry_changes_the_folder_time(hot, event, admin):
    """A file copied with its old modification time still shows: the folder's own time moves."""
    smith = hot / event.event_id / "Smith family"
    shutil.copy2(PHOTOS / "camera.png", smith / "late.png")
    old = time.time() - 500
    os.utime(smith / "late.png", (old, old))  # copied with "preserve times"

    report = scan(hot, admin)
    assert {w.folder.name for w in report.waiting} == {"Smith family", "Jones"}
    assert not Order.objects.exists()


def test_hidden_temporary_files_keep_a_folder_waiting(hot, event, admin):
    smith = hot / event.event_id / "Smith family"
    (smith / ".rsync-tmp.jpg").write_bytes(b"partial")
    old = time.time() - 200
    os.utime(smith, (old, old))
    assert {w.folder.name for w in scan(hot, admin).waiting} == {"Smith family", "Jones"}


def test_folders_already_there_are_imported_and_only_once(hot, event, admin):
    first = scan(hot, admin)
    second = scan(hot, admin)
    assert len(first.imported) == 1
    assert second.imported == []
    assert Order.objects.count() == 1


def test_a_repeated_folder_name_never_overwrites_done(hot, event, admin):
    scan(hot, admin)
    again = fill_order_folder(hot / event.event_id / "Smith family")
    age(again, 120)

    report = scan(hot, admin)

    assert report.imported[0].done == hot / event.event_id / "done" / "Smith family-2"
    assert (hot / event.event_id / "done" / "Smith family" / "rocket.jpg").exists()
    assert len(orders_of_customer("Smith family")) == 2


def test_unknown_events_empty_folders_and_loose_files_are_left_alone(tmp_path, event, admin):
    root = tmp_path / "hot"
    fill_order_folder(root / "NO-SUCH-EVENT" / "Lost")
    (root / "bad id!" / "x").mkdir(parents=True)
    (root / event.event_id / "Empty" / ".hidden").mkdir(parents=True)
    (root / event.event_id / "loose.jpg").write_bytes(b"loose")
    (root / event.event_id / "done" / "old").mkdir(parents=True)
    (root / event.event_id / "done" / "old" / "a.jpg").write_bytes(b"a")
    age(root, 120)
    before = tree(root)

    report = scan(root, admin)

    assert report.imported == []
    assert report.failed == []
    assert report.waiting == []
    assert any("NO-SUCH-EVENT: unknown Event ID" in n for n in report.notes)
    assert any("bad id!: unknown Event ID" in n for n in report.notes)
    assert any("Empty: no files to import" in n for n in report.notes)
    assert tree(root) == before
    assert not Order.objects.exists()


def test_a_failed_import_goes_to_failed_with_the_reason(hot, event, admin):
    viewer = make_user(VIEWER)
    before = tree(hot)

    report = scan(hot, viewer)

    assert report.imported == []
    failed = hot / event.event_id / "failed" / "Smith family"
    assert [f.folder for f in report.failed] == [failed]
    assert "may not create orders" in report.failed[0].reason
    reason = (hot / event.event_id / "failed" / "Smith family.reason.txt").read_text()
    assert "may not create orders" in reason
    moved = {
        p.replace("/Smith family/", "/failed/Smith family/") for p in before if "Smith family" in p
    }
    assert moved <= tree(hot)
    assert not Order.objects.exists()


def test_an_interrupted_import_is_reported_not_repeated(hot, event, admin):
    stale = hot / event.event_id / ".importing" / "Half done"
    fill_order_folder(stale)
    age(hot, 120)

    report = scan(hot, admin)

    assert any("interrupted" in n for n in report.notes)
    assert [i.result.order.customer_name for i in report.imported] == ["Jones", "Smith family"]
    assert (stale / "rocket.jpg").exists()


def test_event_folders_pick_their_own_event(tmp_path, admin, event):
    other = Event.objects.create(event_id="SCH-2025-0002")
    root = tmp_path / "hot"
    fill_order_folder(root / event.event_id / "A")
    fill_order_folder(root / other.event_id / "B")
    age(root, 120)

    scan(root, admin)

    assert {(o.customer_name, o.event_id) for o in Order.objects.all()} == {
        ("A", event.pk),
        ("B", other.pk),
    }


# --- the command and the watcher ------------------------------------------------------------


def test_command_once_scans_and_prints_a_summary(hot, event, admin, settings):
    settings.HOT_FOLDER = str(hot)
    out = StringIO()
    call_command("watch_hot_folder", "--once", stdout=out, stderr=StringIO())
    text = out.getvalue()
    order = Order.objects.get()
    assert f"{order.order_ref}  Smith family" in text
    assert "4 added, 2 rejected" in text
    assert "rejected  rejected/empty.jpg: File is empty (0 bytes)." in text


def test_command_needs_a_hot_folder(settings, admin, tmp_path):
    settings.HOT_FOLDER = ""
    with pytest.raises(CommandError, match="No hot folder"):
        call_command("watch_hot_folder", "--once")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("watch_hot_folder", str(tmp_path / "nope"), "--once")


def test_watcher_imports_folders_present_at_start_and_dropped_later(tmp_path, event, admin):
    root = tmp_path / "hot"
    fill_order_folder(root / event.event_id / "Early")
    age(root, 120)
    imported: list[str] = []
    watcher: hot_folder.Watcher

    def on_report(report):
        imported.extend(i.result.order.customer_name for i in report.imported)
        if len(imported) >= 2:
            watcher.stop.set()

    watcher = hot_folder.Watcher(root, actor=admin, settle=0.3, rescan=10, on_report=on_report)

    def drop_later():
        time.sleep(0.5)
        target = root / event.event_id / "Late"
        target.mkdir()
        shutil.copyfile(PHOTOS / "rocket.jpg", target / "rocket.jpg")

    dropper = threading.Thread(target=drop_later)
    guard = threading.Timer(20, lambda: (watcher.stop.set(), watcher.wake.set()))
    dropper.start()
    guard.start()
    try:
        started = time.monotonic()
        watcher.run()  # the scans run here, in the test's thread and database transaction
    finally:
        guard.cancel()
        dropper.join()

    assert imported == ["Early", "Late"]
    assert time.monotonic() - started < 10  # woken by the file-system event, not the rescan
    assert (root / event.event_id / "done" / "Late" / "rocket.jpg").exists()


def test_pause_is_until_the_next_folder_is_due(admin, tmp_path):
    watcher = hot_folder.Watcher(tmp_path, actor=admin, settle=30, rescan=60)
    assert watcher.pause_after(None) == 60
    assert watcher.pause_after(hot_folder.ScanReport()) == 60
    soon = hot_folder.ScanReport(waiting=[hot_folder.Waiting(Path("x"), time.time() + 5)])
    assert 4 < watcher.pause_after(soon) <= 5.2
