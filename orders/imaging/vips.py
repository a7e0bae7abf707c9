"""libvips, set up once for untrusted input.

Customers' files are untrusted. libvips marks its riskier loaders (ImageMagick,
PDF, MATLAB and the like) as untrusted; blocking them means a file that slipped
past ``sniff`` still cannot reach one. Its operation cache is turned off: a
worker sees every file once, so the cache would only hold memory and open
descriptors of files already deleted. pillow-heif's opener is registered so
that Pillow, wherever the project uses it on originals, reads HEIC as well.
"""

from __future__ import annotations

import logging

import pillow_heif
import pyvips

_configured = False


def configure() -> None:
    """Apply the process-wide libvips settings for untrusted images (idempotent)."""
    global _configured
    if _configured:
        return
    # libvips narrates every operation at INFO ("thumbnailing ...", "reducev: 13 point
    # mask"); at the project's INFO level that would be most of a worker's log.
    logging.getLogger("pyvips").setLevel(logging.WARNING)
    pyvips.block_untrusted_set(True)
    pyvips.cache_set_max(0)
    # Pillow opens HEIC/HEIF too from here on (EXIF readers, the AI steps' local tools).
    pillow_heif.register_heif_opener()
    _configured = True
