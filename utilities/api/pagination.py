"""Pagination and ordering shared by the API's lists.

Lists that grow without bound (orders, images, an event's orders, history)
use cursor pages: each page is one indexed range query ("after this
position"), as fast on page 5,000 as on page 1, and stable while rows are
added (an offset would skip or repeat them). ``?ordering=`` picks one of the
fields a view allows, always with ``id`` as the tie-break, since a cursor
needs a total order; the fields offered are indexed ones.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination

#: Default and largest ``?page_size=``.
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class CursorPage(CursorPagination):
    """Cursor pages of ``PAGE_SIZE`` (``?page_size=`` up to ``MAX_PAGE_SIZE``; a larger one
    is capped, an unreadable one ignored); a forged cursor is 400, not DRF's 404 or a 500."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (NotFound, ValueError, TypeError, OverflowError, DjangoValidationError):
            # A cursor DRF cannot decode (it says 404), or one whose position does
            # not fit the ordering field (a forged one): bad input either way.
            raise ValidationError({"cursor": ["Invalid cursor."]}) from None


class CursorOrdering(OrderingFilter):
    """``?ordering=field`` or ``-field``, one of ``view.ordering_fields``; unknown: 400.

    ``view.ordering`` is the default. ``id`` (same direction) is appended as the
    tie-break the cursor needs.
    """

    def get_ordering(self, request, queryset, view) -> list[str]:
        allowed = list(view.ordering_fields)
        raw = request.query_params.get(self.ordering_param)
        if raw is not None and raw.strip():
            wanted = raw.strip()
            if wanted.lstrip("-") not in allowed:
                choices = ", ".join(f"{f}, -{f}" for f in allowed)
                raise ValidationError({"ordering": [f"One of {choices}."]})
            ordering = [wanted]
        else:
            ordering = list(view.ordering)
        if ordering[-1].lstrip("-") != "id":
            ordering.append("-id" if ordering[0].startswith("-") else "id")
        return ordering

    def get_schema_operation_parameters(self, view) -> list[dict]:
        values = [v for f in view.ordering_fields for v in (f, f"-{f}")]
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": f"Sort order (default `{view.ordering[0]}`); ties by id.",
                "schema": {"type": "string", "enum": values},
            }
        ]
