"""Image checks and renditions for ingest: pure functions, no Django.

Plain data in and out (paths, bytes, dataclasses), so they run and are tested
without a database and the benchmark times exactly what ingest runs.

- ``sniff``: the real type from the first bytes; only JPEG, PNG, TIFF, WebP, HEIC/HEIF pass.
- ``header``: size and orientation before decoding; the pixel limit (bomb guard).
- ``exif``: camera facts as JSON-safe values; GPS only when allowed.
- ``renditions``: one decode (which verifies the file) into preview and thumbnail.
- ``colour``: to 8-bit sRGB, through ICC only when the source needs it.
- ``heif``: HEIC/HEIF decoded by pillow-heif (the libvips wheel has no HEVC decoder).
- ``phash``: perceptual hashes, turned copies included, and their distances.
- ``process``: all of the above for one file, in order of cost.
- ``errors``: ``ImageRejected`` (a verdict with a reason) and ``ChecksumMismatch``.
- ``vips``: the process-wide libvips settings for untrusted files.
"""

from .errors import ACCEPTED_TYPES, ChecksumMismatch, ImageRejected
from .phash import PerceptualHash, distance, nearest, turned_distance
from .process import Processed, process

__all__ = [
    "ACCEPTED_TYPES",
    "ChecksumMismatch",
    "ImageRejected",
    "PerceptualHash",
    "Processed",
    "distance",
    "nearest",
    "process",
    "turned_distance",
]
