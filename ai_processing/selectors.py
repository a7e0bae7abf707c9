"""Reads of the review queue page: which images wait, filtered and counted, and what each shows.

Everything starts from ``Image.objects.restrict(user, REVIEW)`` (the one access
rule) and the ``needs_review`` status. The filters (search, order, reason) are
faceted: the counts per reason are taken with the other filters applied but
not the reason itself, and the same for the orders, so each count says what
choosing it would show. The image a near-duplicate matches is shown only to a
user who may view that image's order (the same rule, ``view`` action).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import QueryDict
from django.urls import reverse
from django.utils.http import urlencode

from orders.models import Image
from utilities import access

#: Images per page of the queue.
PAGE_SIZE = 24
#: Most orders offered in the order filter (the ones with most images waiting come first).
MAX_ORDER_CHOICES = 100
Reason = Image.ReviewReason
HIDDEN_MATCH = "Looks like an image of an order you cannot see."


@dataclass(frozen=True)
class QueueFilters:
    """What the queue is narrowed to, read from the query string (bad values are dropped)."""

    search: str = ""
    order: str = ""
    reason: str = ""
    after: int = 0

    @classmethod
    def from_query(cls, query: QueryDict) -> QueueFilters:
        reason = query.get("reason", "")
        raw_after = query.get("after", "")
        return cls(
            search=query.get("q", "").strip()[:100],
            order=query.get("order", "").strip()[:20],
            reason=reason if reason in Reason.values else "",
            after=int(raw_after) if raw_after.isdigit() and len(raw_after) < 19 else 0,
        )

    def params(self, **changes: Any) -> dict[str, Any]:
        """The filters as query parameters (empty ones left out), with ``changes`` applied."""
        values = {"q": self.search, "order": self.order, "reason": self.reason, "after": self.after}
        values.update(changes)
        return {key: value for key, value in values.items() if value}

    def query(self, **changes: Any) -> str:
        """``?q=…&reason=…`` for links that keep the filters (``""`` when there are none)."""
        params = self.params(**changes)
        return "?" + urlencode(params) if params else ""

    @property
    def active(self) -> bool:
        return bool(self.search or self.order or self.reason)


def waiting(user: Any) -> QuerySet[Image]:
    """Every image waiting for review that ``user`` may answer."""
    return Image.objects.restrict(user, access.Action.REVIEW).filter(
        status=Image.Status.NEEDS_REVIEW
    )


def _filtered(user: Any, filters: QueueFilters, *, without: str = "") -> QuerySet[Image]:
    images = waiting(user)
    if filters.search:
        images = images.filter(
            Q(order__order_ref__iexact=filters.search)
            | Q(order__event__event_id__iexact=filters.search)
            | Q(original_filename__icontains=filters.search)
        )
    if filters.order and without != "order":
        images = images.filter(order__order_ref__iexact=filters.order)
    if filters.reason and without != "reason":
        images = images.filter(review_reason=filters.reason)
    return images


@dataclass(frozen=True)
class Choice:
    """One option of a filter, with how many images choosing it shows."""

    value: str
    label: str
    count: int
    selected: bool


def reason_choices(user: Any, filters: QueueFilters) -> list[Choice]:
    """Every reason category with its count under the other filters (zeros included)."""
    counts = dict(
        _filtered(user, filters, without="reason")
        .order_by()
        .values_list("review_reason")
        .annotate(n=Count("id"))
    )
    # An image put in review before the code existed, or by a writer that gave
    # none, has "" only if a migration missed it; count it as "other".
    counts[Reason.OTHER] = counts.get(Reason.OTHER, 0) + counts.pop("", 0)
    return [
        Choice(code, label, counts.get(code, 0), code == filters.reason)
        for code, label in Reason.choices
    ]


def order_choices(user: Any, filters: QueueFilters) -> list[Choice]:
    """Orders with images waiting (most waiting first), with their counts under the other filters.

    The chosen order is always among them, with 0 when nothing of it waits any more.
    """
    rows = list(
        _filtered(user, filters, without="order")
        .order_by()
        .values_list("order__order_ref")
        .annotate(n=Count("id"))
        .order_by("-n", "order__order_ref")[:MAX_ORDER_CHOICES]
    )
    chosen = filters.order.upper()
    choices = [Choice(ref, ref, n, ref.upper() == chosen) for ref, n in rows]
    if chosen and not any(c.selected for c in choices):
        choices.insert(0, Choice(filters.order, filters.order, 0, True))
    return choices


@dataclass(frozen=True)
class Side:
    """One image of the page as the reviewer sees it: picture, names, sizes, when it was taken."""

    image_id: int
    filename: str
    order_ref: str
    event_id: str
    file_size: int
    width: int | None
    height: int | None
    captured_at: datetime | None
    thumbnail_url: str
    preview_url: str

    @classmethod
    def of(cls, image: Image) -> Side:
        ref = image.order.order_ref
        return cls(
            image_id=image.pk,
            filename=image.original_filename,
            order_ref=ref,
            event_id=image.order.event.event_id,
            file_size=image.file_size,
            width=image.width,
            height=image.height,
            captured_at=captured_at(image),
            thumbnail_url=(
                reverse("image_thumbnail", args=[ref, image.pk]) if image.thumbnail else ""
            ),
            preview_url=reverse("image_preview", args=[ref, image.pk]) if image.preview else "",
        )


@dataclass(frozen=True)
class Match:
    """What a near-duplicate matches, as far as the reviewer may know it.

    ``side`` is None when the matched image is gone (deleted) or its order is
    one the reviewer may not view (``hidden``): then the page says so instead.
    """

    side: Side | None
    hidden: bool
    distance: int | None
    same_order: bool


@dataclass
class ReviewItem:
    """One image of the queue page."""

    image: Image
    side: Side
    reason_label: str
    #: The reason in words; it does not name an image the reviewer may not see.
    reason_text: str = ""
    match: Match | None = None
    trail_lines: list[str] = field(default_factory=list)
    #: The queue narrowed to this image's order (the page's other filters kept).
    only_order_href: str = ""


def captured_at(image: Image) -> datetime | None:
    """When the photo was taken, from its EXIF, if known: the camera's own clock time.

    Naive on purpose (any offset dropped): two shots are compared by what the
    camera showed, not converted to the server's time zone.
    """
    exif = image.metadata.get("exif") if isinstance(image.metadata, dict) else None
    text = exif.get("captured_at") if isinstance(exif, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        return None


def duplicate_match(image: Image, user: Any) -> Match | None:
    """The image ``image`` nearly repeats, for the side-by-side view; None if it is no duplicate."""
    facts = image.metadata.get("near_duplicate") if isinstance(image.metadata, dict) else None
    distance = facts.get("distance") if isinstance(facts, dict) else None
    distance = distance if isinstance(distance, int) else None
    other = image.duplicate_of
    if other is None:
        if facts is None and image.review_reason != Reason.NEAR_DUPLICATE:
            return None
        return Match(side=None, hidden=False, distance=distance, same_order=False)
    same_order = other.order_id == image.order_id
    if not access.can(user, access.Action.VIEW, other.order):
        return Match(side=None, hidden=True, distance=distance, same_order=same_order)
    return Match(side=Side.of(other), hidden=False, distance=distance, same_order=same_order)


def trail_lines(image: Image) -> list[str]:
    """What each provider did for each operation, in words (from ``ai_metadata.trail``)."""
    lines = []
    trail = image.ai_metadata.get("trail", {}) if isinstance(image.ai_metadata, dict) else {}
    for op, steps in trail.items() if isinstance(trail, dict) else ():
        for step in steps if isinstance(steps, list) else []:
            if not isinstance(step, dict):
                continue
            reason = f": {step['reason']}" if step.get("reason") else ""
            label = str(op).replace("_", " ")  # "full resolution", not the metadata key
            lines.append(f"{label} · {step.get('provider')} {step.get('outcome')}{reason}")
    return lines


@dataclass
class QueuePage:
    items: list[ReviewItem]
    #: Keyset of the next page (the last image's id), None on the last page.
    next_after: int | None


def queue_page(user: Any, filters: QueueFilters, size: int | None = None) -> QueuePage:
    """One page of the queue under ``filters``, oldest first, keyset on the image id."""
    size = size or PAGE_SIZE
    images = _filtered(user, filters).select_related(
        "order", "order__event", "order__preset", "duplicate_of__order__event"
    )
    if filters.after:
        images = images.filter(pk__gt=filters.after)
    rows = list(images.order_by("pk")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    labels = dict(Reason.choices)
    items = []
    for image in rows:
        match = duplicate_match(image, user)
        items.append(
            ReviewItem(
                image=image,
                side=Side.of(image),
                reason_label=labels.get(image.review_reason, Reason.OTHER.label),
                # Ingest's sentence names the matched image and its order.
                reason_text=HIDDEN_MATCH if match and match.hidden else image.status_reason,
                match=match,
                trail_lines=trail_lines(image),
            )
        )
    return QueuePage(items=items, next_after=rows[-1].pk if more and rows else None)
