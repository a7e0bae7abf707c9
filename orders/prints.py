"""Prints of an image (placeholder: the print helper's module replaces this one at merge).

The PMR delivery (``pmr.outbox``, ``pmr.drain``) calls ``print_renditions(image)`` for
the print files to deliver with each image; here nothing is ordered, so it returns ``[]``.
The names and fields are the interface both sides agreed on; keep them exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .models import Image


@dataclass
class PrintRendition:
    """One print size's file: its crop's own pixels, at the DPI they give on that size."""

    size_code: str
    width: int
    height: int
    dpi: int
    render: Callable[[], bytes]


def print_renditions(image: Image) -> list[PrintRendition]:
    """One rendition per ordered physical size (none until print sizes exist)."""
    return []
