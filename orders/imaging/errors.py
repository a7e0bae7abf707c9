"""The one exception the imaging functions raise for a file we refuse.

A refusal is not a bug: it carries a sentence for the person who uploaded the
file (``reason``) and, apart, the technical detail for staff (``detail``), so
the service can store the first as the image's status reason and log the
second without showing decoder messages to customers.
"""

from __future__ import annotations

ACCEPTED_TYPES = "JPEG, PNG, TIFF, WebP and HEIC"


class ImageRejected(Exception):
    """The file is not an image we accept; ``reason`` says why, in plain words."""

    def __init__(self, reason: str, *, code: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        #: A stable short name of the rule that refused the file (for tests, logs, metrics).
        self.code = code
        #: The decoder's own words, for staff; never shown to the uploader.
        self.detail = detail


class ChecksumMismatch(Exception):
    """The file's SHA-256 is not the one expected: the bytes changed since they were hashed.

    Not a verdict on the photo (the file read is not the file sent), so it is
    kept apart from ``ImageRejected``.
    """

    def __init__(self, actual: str, expected: str) -> None:
        super().__init__(f"sha256 {actual} != expected {expected}")
        self.actual, self.expected = actual, expected


#: Decoder messages that mean the picture data stops early.
_TRUNCATION_HINTS = (
    "premature end",
    "truncated",
    "unexpected end",
    "end of file",
    "outside of file bounds",
    "not enough data",
)


def decode_failure(label: str, detail: str) -> ImageRejected:
    """The refusal for picture data that does not decode, told apart: cut off, or damaged."""
    detail = " ".join(detail.split())
    if any(hint in detail.lower() for hint in _TRUNCATION_HINTS):
        return ImageRejected(
            "The file is incomplete: it ends before the picture does (the upload or copy "
            "was probably cut off). Please upload the original again.",
            code="truncated",
            detail=detail,
        )
    return ImageRejected(
        f"The file is damaged or incomplete: its {label} picture data cannot be decoded. "
        "Please upload the original again.",
        code="corrupt",
        detail=detail,
    )
