"""Orders with real photos (originals, renditions from ingest, a processed file), a snapshot of
everything a restore must bring back, and changes that a restore must undo.

Shared by the PostgreSQL tests (in pytest's database) and the SQLite round trip (a process of
its own, ``sqlite_round_trip``): plain functions over the real services.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder

from accounts.models import User
from events.models import Event
from orders import intake
from orders import services as order_services
from orders.models import Image, Order, OrderEvent

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"


def populate(actor: User, event: Event) -> list[Order]:
    """Three orders, each with one photo through upload and ingest; the last image also gets a
    processed file (as the AI step leaves one)."""
    orders = []
    for n, photo in enumerate(("rocket.jpg", "coffee.png", "chelsea.png")):
        order = order_services.create_order(
            actor=actor, event=event, customer_name=f"Customer {n}", notes=f"note {n} ✓"
        )
        image = intake.add_image(
            order, source=io.BytesIO((PHOTOS / photo).read_bytes()), filename=photo, actor=actor
        )
        intake.ingest_image(image.pk)
        orders.append(order)
    image = Image.objects.filter(order=orders[-1]).get()
    image.processed.save("edited.jpg", ContentFile(b"\xff\xd8processed bytes\xff\xd9"), save=True)
    return orders


def mutate(media_root: Path) -> None:
    """What happens after a backup and must be undone by the restore: an order deleted (its
    images and files with it), one changed, one added, a file changed, a stray file."""
    first, second, third = Order.objects.order_by("pk")[:3]
    files = [f.path for f in (im.original for im in first.images.all())]
    Order.objects.filter(pk=first.pk).delete()
    for path in files:
        Path(path).unlink()
    Order.objects.filter(pk=second.pk).update(customer_name="Changed after the backup")
    order_services.create_order(
        actor=third.created_by, event=third.event, customer_name="Made after the backup"
    )
    preview = Image.objects.filter(order=third).get().preview.path
    Path(preview).write_bytes(b"not the preview any more")
    (media_root / "stray.txt").write_text("written after the backup")


def _rows(model: Any) -> list[dict[str, Any]]:
    return list(model.objects.order_by("pk").values())


def snapshot(media_root: Path) -> dict[str, Any]:
    """Users, events, orders, images, timelines (every column) and every media file's bytes
    (SHA-256), as JSON-able values."""
    media = {
        p.relative_to(media_root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(media_root.rglob("*"))
        if p.is_file()
    }
    state = {
        "users": _rows(User),
        "events": _rows(Event),
        "orders": _rows(Order),
        "images": _rows(Image),
        "timeline": _rows(OrderEvent),
        "media": media,
    }
    return json.loads(json.dumps(state, cls=DjangoJSONEncoder))


def image_files(state: dict[str, Any]) -> list[str]:
    """The media files the snapshot's images name (originals, renditions, processed)."""
    names = []
    for row in state["images"]:
        names += [row[f] for f in ("original", "preview", "thumbnail", "processed") if row[f]]
    return names
