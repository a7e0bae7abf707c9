"""What the order timeline says: one registry of entry kinds, one reader, one serializer.

Every ``OrderEvent`` has a ``kind`` (``order.status_changed``, ``pmr.delivered``, …) and a
payload of facts. People never see either: the order page, the dashboard's recent activity,
the polling API and the live socket all read an order's entries through ``entries_after``
(the one reader), which gives each the sentence this module makes (``describe``), and carry
them as ``entry_json`` makes them (the one serializer). Why a registry rather than one
function that knows every kind:

- **Each app says what its own entries mean.** ``orders`` registers its kinds here (their
  constants are ``OrderEvent.Kind``, the values the column stores); the apps above it keep
  their kinds' constants beside their sentences in their own ``timeline`` module
  (``ai_processing.timeline``, ``pmr.timeline``, ``notifications.timeline``) and register
  them from their ``AppConfig.ready``, so this module never imports them and the dependency
  direction holds (orders ← ai_processing ← pmr ← notifications). Writers pass those
  constants to ``services.record_event``, never a string.
- **Nothing reads as a code.** A kind nobody registered (an old row, a new writer that forgot)
  still becomes a sentence (``fallback``), and ``tests/orders/test_timeline_sentences.py``
  finds every kind the code writes (and every kind a full order run leaves in the database)
  and fails if one is not registered, is a string literal, or reads as a code.
- **Names without a query per entry.** A sentence often names something the payload only
  refers to by id (an image, a user, a preset). A kind declares which payload keys refer to
  what (``refs``); ``describe`` gathers the ids of a whole list and asks each lookup once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from .models import Image, Order, OrderEvent

#: How an entry's time reads on the timeline: "4 Dec 2026, 09:21:05" (local time). Seconds,
#: because an order's steps often happen within one minute; the dashboard uses minutes.
TIMELINE_FORMAT = "j M Y, H:i:s"
#: A PMR error's trailing "[422 event_closed]": for the logs, not for people.
_ERROR_CODE_SUFFIX = re.compile(r"\s*\[[^\]]*\]\s*$")

Payload = Mapping[str, Any]


class Names:
    """Display names of the things a list of entries refers to, looked up once per list."""

    def __init__(self, found: dict[str, dict[Any, str]] | None = None) -> None:
        self._found = found or {}

    def get(self, lookup: str, key: Any, default: str = "") -> str:
        """The name of ``key`` in ``lookup`` ("image", "user", …), or ``default``."""
        try:
            return self._found.get(lookup, {}).get(key) or default
        except TypeError:  # an unhashable value in a payload: no name, no crash
            return default


Describer = Callable[[Payload, Names], str]
Lookup = Callable[[set[Any]], dict[Any, str]]


@dataclass(frozen=True)
class EntryKind:
    """A kind of timeline entry: its sentence, and which payload keys name what."""

    kind: str
    describe: Describer
    #: payload key → lookup name, e.g. {"image": "image"}: the key holds an image id.
    refs: Mapping[str, str] = field(default_factory=dict)


_kinds: dict[str, EntryKind] = {}
_lookups: dict[str, Lookup] = {}


def register(
    kind: str, *, refs: Mapping[str, str] | None = None
) -> Callable[[Describer], Describer]:
    """Decorator: ``describer(payload, names) -> sentence`` is how entries of ``kind`` read.

    Registering a kind twice replaces it (apps' ``ready`` may run again in tests).
    """

    def add(describer: Describer) -> Describer:
        _kinds[kind] = EntryKind(kind, describer, dict(refs or {}))
        return describer

    return add


def register_lookup(name: str, lookup: Lookup) -> None:
    """``lookup(keys) -> {key: display name}``: one query for all keys of a list of entries."""
    _lookups[name] = lookup


def registered_kinds() -> frozenset[str]:
    """Every kind with a sentence of its own."""
    return frozenset(_kinds)


def sentence(kind: str, payload: Any, names: Names | None = None) -> str:
    """The sentence for one entry; never the kind itself, whatever the payload holds."""
    facts = payload if isinstance(payload, Mapping) else {}
    entry_kind = _kinds.get(kind)
    if entry_kind is None:
        return fallback(kind)
    try:
        text = entry_kind.describe(facts, names or Names())
    except Exception:  # a payload of an older shape must not break a page
        text = ""
    return text or fallback(kind)


#: How the first part of an unregistered kind reads.
_AREAS = {"order": "Order", "image": "Image", "pmr": "PMR", "ai": "AI"}


def fallback(kind: str) -> str:
    """A sentence for a kind nobody registered: "PMR: something new" for ``pmr.something_new``."""
    area, _, what = str(kind).partition(".")
    words = re.sub(r"[._\-]+", " ", what).strip()
    label = _AREAS.get(area, re.sub(r"[._\-]+", " ", area).strip().capitalize() or "Order")
    return f"{label}: {words}" if words else f"{label} changed"


def _names_for(entries: Iterable[Any]) -> Names:
    wanted: dict[str, set[Any]] = {}
    for entry in entries:
        entry_kind = _kinds.get(entry.kind)
        if entry_kind is None or not entry_kind.refs or not isinstance(entry.payload, Mapping):
            continue
        for key, lookup in entry_kind.refs.items():
            value = entry.payload.get(key)
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                wanted.setdefault(lookup, set()).add(value)
    found = {name: _lookups[name](keys) for name, keys in wanted.items() if name in _lookups}
    return Names(found)


def at_label(moment) -> str:
    """An entry's time as the timeline shows it, in the site's time zone."""
    return date_format(timezone.localtime(moment), TIMELINE_FORMAT)


def activity_label(moment) -> str:
    """An entry's time on the dashboard: "4 Dec 2026, 09:21" (``DATETIME_FORMAT``), local."""
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def describe(entries: list[Any]) -> list[Any]:
    """Set ``text`` (the sentence) and ``at_label`` (its time) on each entry; the one reader.

    One query per kind of name the entries refer to (images, users, …), whatever their number.
    """
    names = _names_for(entries)
    for entry in entries:
        entry.text = sentence(entry.kind, entry.payload, names)
        entry.at_label = at_label(entry.created_at)
    return entries


def entries_after(
    order_id: int, after: int = 0, *, limit: int = 100, newest_first: bool = False
) -> tuple[list[OrderEvent], bool]:
    """The order's entries numbered above ``after``, described; and whether more follow.

    The one reader of an order's timeline: the live socket's catch-up and the polling API
    read up to ``limit`` entries oldest first from the client's last number (no gap, no
    repeat); the order page reads the newest ``limit`` (``newest_first``). The caller has
    applied the access rule to the order.
    """
    rows = list(
        OrderEvent.objects.filter(order_id=order_id, seq__gt=after)
        .select_related("actor")
        .order_by("-seq" if newest_first else "seq")[: limit + 1]
    )
    return describe(rows[:limit]), len(rows) > limit


def entry_json(entry: OrderEvent) -> dict[str, Any]:
    """One entry as the live socket, the polling API and the order page's script carry it.

    The one serializer of an order's entry (docs/live.md, docs/api.md): ``text`` is the
    sentence the page shows, ``payload`` the raw facts of its ``kind``.
    """
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "at": entry.created_at.isoformat(),
        "at_label": getattr(entry, "at_label", None) or at_label(entry.created_at),
        "actor": str(entry.actor) if entry.actor_id else "",
        "text": getattr(entry, "text", None) or sentence(entry.kind, entry.payload),
        "payload": entry.payload if isinstance(entry.payload, dict) else {},
    }


def activity_json(entry: OrderEvent) -> dict[str, Any]:
    """One entry of the dashboard's recent activity (entries of many orders, with
    ``select_related("order")``): which order and where it is, the sentence, its time in
    minutes."""
    return {
        "ref": entry.order.order_ref,
        "url": reverse("order_detail", args=[entry.order.order_ref]),
        "seq": entry.seq,
        "text": getattr(entry, "text", None) or sentence(entry.kind, entry.payload),
        "at": entry.created_at.isoformat(),
        "at_label": activity_label(entry.created_at),
        "actor": str(entry.actor) if entry.actor_id else "",
    }


def error_text(error: Any) -> str:
    """An outside service's error as people read it: without the trailing code in brackets."""
    text = _ERROR_CODE_SUFFIX.sub("", str(error or "")).strip()
    return text.rstrip(".") if text else "no reason given"


def plural(n: Any, word: str) -> str:
    """ "1 image", "3 images"."""
    try:
        count = int(n)
    except (TypeError, ValueError):
        return f"{word}s"
    return f"{count} {word}{'' if count == 1 else 's'}"


def with_reason(text: str, reason: Any) -> str:
    """ "text: reason" when there is a reason."""
    reason = str(reason or "").strip()
    return f"{text}: {reason}" if reason else text


def _lines_text(lines: Any, empty: str) -> str:
    """ "2 × 4×6, 1 × 8×10" from a payload's print lines."""
    parts = [
        f"{line.get('quantity')} × {line.get('label') or line.get('size')}"
        for line in lines or []
        if isinstance(line, Mapping)
    ]
    return ", ".join(parts) if parts else empty


# --- the kinds orders writes -------------------------------------------------------------


def image_name(p: Payload, names: Names, *, start: bool = True) -> str:
    """The image an entry is about: its file name (looked up by id, else the payload's),
    else "An image" at the start of a sentence and "an image" within one."""
    name = names.get("image", p.get("image")) or str(p.get("filename") or "")
    return name or ("An image" if start else "an image")


def sentence_start(text: str) -> str:
    """``text`` with a capital first letter, for sentences that open with words of ours or a
    reason (never one that opens with a file name: "astronaut.png" keeps its case)."""
    return text[:1].upper() + text[1:]


def _order_status_label(value: Any) -> str:
    labels = dict(Order.Status.choices)
    return labels.get(value) or str(value).replace("_", " ").capitalize()


#: How an image's move reads after its name, by the status it moved to.
IMAGE_MOVES = {
    "uploaded": "queued to be checked again",
    "ingested": "ingested",
    "analyzed": "analyzed by AI",
    "processed": "processed",
    "synced": "delivered to the PMR",
    "rejected": "rejected",
    "failed": "failed",
    "needs_review": "needs review",
}
#: Moves whose reason adds nothing the sentence does not already say.
_QUIET_REASONS = {"synced"}


def register_order_kinds() -> None:
    """The kinds ``orders`` writes (called from ``OrdersConfig.ready``)."""
    kind = OrderEvent.Kind

    @register(kind.ORDER_CREATED)
    def _created(p: Payload, names: Names) -> str:
        return "Order created"

    @register(kind.ORDER_STATUS)
    def _status(p: Payload, names: Names) -> str:
        before, after = p.get("from"), p.get("to")
        if not after:
            text = "Status changed"
        elif not before:
            text = f"Status: {_order_status_label(after)}"
        else:
            text = f"Status {_order_status_label(before)} → {_order_status_label(after)}"
        return f"{text} ({p['reason']})" if p.get("reason") else text

    @register(kind.ORDER_UPDATED)
    def _updated(p: Payload, names: Names) -> str:
        labels = []
        for name in p.get("fields") or []:
            try:
                labels.append(str(Order._meta.get_field(name).verbose_name))
            except Exception:
                labels.append(str(name).replace("_", " "))
        return "Details edited: " + ", ".join(labels) if labels else "Details edited"

    @register(kind.ORDER_ASSIGNED, refs={"to": "user"})
    def _assigned(p: Payload, names: Names) -> str:
        if not p.get("to"):
            return "No longer assigned to anyone"
        return f"Assigned to {names.get('user', p.get('to'), 'another user')}"

    @register(kind.IMAGE_ADDED)
    def _added(p: Payload, names: Names) -> str:
        return f"Image added: {p['filename']}" if p.get("filename") else "Image added"

    @register(kind.IMAGE_STATUS, refs={"image": "image"})
    def _image_status(p: Payload, names: Names) -> str:
        to = p.get("to")
        move = IMAGE_MOVES.get(to) or str(to or "changed").replace("_", " ")
        text = f"{image_name(p, names)} {move}"
        return text if to in _QUIET_REASONS else with_reason(text, p.get("reason"))

    @register(kind.IMAGES_STATUS)
    def _images_status(p: Payload, names: Names) -> str:
        to = p.get("to")
        move = IMAGE_MOVES.get(to) or str(to or "changed").replace("_", " ")
        count = p.get("count")
        if not isinstance(count, int) or isinstance(count, bool):
            images = p.get("images")
            count = len(images) if isinstance(images, list) else None
        text = f"{plural(count, 'image')} {move}" if count is not None else f"Images {move}"
        return text if to in _QUIET_REASONS else with_reason(text, p.get("reason"))

    @register(kind.IMAGE_REQUEUED, refs={"image": "image"})
    def _requeued(p: Payload, names: Names) -> str:
        step = "the AI step" if p.get("step") == "ai" else "ingest"
        return f"{image_name(p, names)} queued again for {step}"

    @register(kind.ORDER_STOPPED_SHORT)
    def _stopped_short(p: Payload, names: Names) -> str:
        return with_reason("Stopped before delivery", p.get("reason"))

    @register(kind.ORDER_PARTIAL_DELIVERY)
    def _partial(p: Payload, names: Names) -> str:
        left = [
            str(i.get("filename") or "")
            for i in p.get("left_out") or []
            if isinstance(i, dict) and i.get("filename")
        ]
        text = "Delivered without the failed images"
        return f"{text}: {', '.join(left)}" if left else text

    @register(kind.ORDER_SUBMITTED)
    def _submitted(p: Payload, names: Names) -> str:
        count = p.get("images")
        if isinstance(count, int) and not isinstance(count, bool):
            return f"Every file sent: {plural(count, 'file')}"
        return "Every file sent"

    @register(kind.ORDER_SUBMIT_OVERDUE)
    def _submit_overdue(p: Payload, names: Names) -> str:
        return sentence_start(
            str(p.get("reason") or "Still waiting for the sending system to say it is done")
        )

    @register(kind.ORDER_PRINTS)
    def _prints(p: Payload, names: Names) -> str:
        return "Prints ordered: " + _lines_text(p.get("lines"), "none")

    @register(kind.IMAGE_PRINTS, refs={"image": "image"})
    def _image_prints(p: Payload, names: Names) -> str:
        lines = p.get("lines")
        if not lines:
            return f"{image_name(p, names)} now takes the order's prints"
        return f"Prints of {image_name(p, names, start=False)}: {_lines_text(lines, 'none')}"

    @register(kind.IMAGE_CROP, refs={"image": "image"})
    def _crop(p: Payload, names: Names) -> str:
        size = str(p.get("label") or p.get("size") or "a print")
        how = "reset to automatic" if p.get("basis") != "manual" else "adjusted by hand"
        text = sentence_start(f"{size} crop of {image_name(p, names, start=False)} {how}")
        dpi = p.get("dpi")
        return f"{text} ({dpi} DPI)" if isinstance(dpi, int) and not isinstance(dpi, bool) else text

    @register(kind.ORDER_APPROVED)
    def _approved(p: Payload, names: Names) -> str:
        count = p.get("images")
        what = (
            f" ({plural(count, 'image')})"
            if isinstance(count, int) and not isinstance(count, bool) and count
            else ""
        )
        if p.get("auto"):
            return f"Approved by itself{what}: nobody objected within the waiting time"
        return f"Approved{what}; on to the PMR"

    @register(kind.IMAGE_APPROVED, refs={"image": "image"})
    def _image_approved(p: Payload, names: Names) -> str:
        return f"{image_name(p, names)} approved"

    @register(kind.ORDER_ERASED)
    def _erased(p: Payload, names: Names) -> str:
        why = {
            "retention": " (its retention period ended)",
            "request": " (at the customer's request)",
        }.get(str(p.get("reason") or ""), "")
        count = p.get("files")
        files = (
            f"; {plural(count, 'file')} deleted"
            if isinstance(count, int) and not isinstance(count, bool) and count
            else ""
        )
        return f"Customer's personal data erased{why}{files}"

    def images(ids: set[Any]) -> dict[Any, str]:
        ids = {i for i in ids if isinstance(i, int)}
        return dict(Image.objects.filter(pk__in=ids).values_list("id", "original_filename"))

    def users(ids: set[Any]) -> dict[Any, str]:
        ids = {i for i in ids if isinstance(i, int)}
        return {user.pk: str(user) for user in get_user_model().objects.filter(pk__in=ids)}

    register_lookup("image", images)
    register_lookup("user", users)
