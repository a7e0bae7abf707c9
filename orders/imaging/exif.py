"""The camera facts a studio cares about, as plain JSON.

EXIF is parsed by Pillow from the raw block libvips hands over (no second
read of the file), or, for TIFF, where the EXIF tags live in the file's own
directories, from Pillow's header-only open. The result holds only strings,
ints, floats and dicts: no bytes and no ``IFDRational`` objects, so it can go
straight into a JSON field and an API response. Values that are missing,
malformed or out of range are left out rather than guessed.
"""

from __future__ import annotations

import math
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

# Tag numbers (EXIF 2.32).
_IFD0 = {"make": 0x010F, "model": 0x0110, "software": 0x0131, "artist": 0x013B}
_COPYRIGHT = 0x8298
_ORIENTATION = 0x0112
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_EXPOSURE_TIME, _F_NUMBER, _ISO = 0x829A, 0x829D, 0x8827
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_OFFSET_ORIGINAL, _OFFSET_DIGITIZED = 0x9011, 0x9012
_FOCAL_LENGTH, _FOCAL_35MM = 0x920A, 0xA405
_LENS_MAKE, _LENS_MODEL = 0xA433, 0xA434

MAX_TEXT = 200


def read_exif(blob: bytes | None, *, path: Path | None = None, strip_gps: bool) -> dict[str, Any]:
    """Camera facts from an EXIF block (or, without one, from a TIFF file's own tags).

    ``strip_gps`` leaves the location out entirely (the studio's privacy setting).
    """
    if blob:
        exif = PILImage.Exif()
        try:
            exif.load(blob)
        except Exception:  # a malformed block is no reason to refuse the photo
            return {}
        return facts(exif, strip_gps=strip_gps)
    if path is None:
        return {}
    # TIFF: Pillow reads only the directories here (and the sub-directories
    # lazily, so while the file is open). The pixel limit was checked before,
    # so its decompression-bomb warning, meant for decoding, is noise.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(path) as image:
                return facts(image.getexif(), strip_gps=strip_gps)
    except Exception:
        return {}


def facts(exif: PILImage.Exif, *, strip_gps: bool) -> dict[str, Any]:
    """The chosen facts of a parsed EXIF, JSON-safe."""
    out: dict[str, Any] = {}
    for key, tag in _IFD0.items():
        _put(out, key, _text(exif.get(tag)))
    _put(out, "copyright", _text(exif.get(_COPYRIGHT)))
    orientation = _int(exif.get(_ORIENTATION))
    _put(out, "orientation", orientation if orientation in range(1, 9) else None)

    sub = _ifd(exif, _EXIF_IFD)
    lens_make, lens_model = _text(sub.get(_LENS_MAKE)), _text(sub.get(_LENS_MODEL))
    if lens_model and lens_make and not lens_model.lower().startswith(lens_make.lower()):
        lens_model = f"{lens_make} {lens_model}"
    _put(out, "lens", lens_model or lens_make)
    _put(
        out,
        "captured_at",
        _datetime(sub.get(_DATETIME_ORIGINAL), sub.get(_OFFSET_ORIGINAL))
        or _datetime(sub.get(_DATETIME_DIGITIZED), sub.get(_OFFSET_DIGITIZED)),
    )
    exposure = _number(sub.get(_EXPOSURE_TIME))
    if exposure is not None and exposure > 0:
        out["exposure_time"] = exposure
        out["exposure_time_text"] = _shutter_text(exposure)
    _put(out, "f_number", _positive(_number(sub.get(_F_NUMBER)), digits=1))
    _put(out, "iso", _int(sub.get(_ISO)))
    _put(out, "focal_length", _positive(_number(sub.get(_FOCAL_LENGTH)), digits=1))
    _put(out, "focal_length_35mm", _int(sub.get(_FOCAL_35MM)) or None)

    if not strip_gps:
        _put(out, "gps", _gps(_ifd(exif, _GPS_IFD)))
    return out


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "":
        out[key] = value


def _ifd(exif: PILImage.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:
        return {}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, tuple | list):  # some writers store Artist etc. as several strings
        value = " ".join(str(v) for v in value)
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value.replace("\x00", " ") if ch.isprintable()).strip()
    return cleaned[:MAX_TEXT] or None


def _number(value: Any) -> float | None:
    """An EXIF rational or number as a finite float (a zero denominator gives None)."""
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None or number < 0 else round(number)


def _positive(number: float | None, *, digits: int) -> float | None:
    return round(number, digits) if number is not None and number > 0 else None


def _shutter_text(seconds: float) -> str:
    """``1/250 s`` for short exposures, ``2.5 s`` for long ones, as cameras print them."""
    if seconds >= 0.5:
        return f"{seconds:g} s"
    return f"1/{round(1 / seconds)} s"


def _datetime(value: Any, offset: Any) -> str | None:
    """``2024:05:01 14:03:22`` (+ ``+02:00``) as ISO 8601; placeholders give None."""
    text = _text(value)
    if not text:
        return None
    try:
        moment = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    iso = moment.isoformat()
    offset_text = _text(offset)
    if offset_text and len(offset_text) == 6 and offset_text[0] in "+-":
        try:
            datetime.strptime(offset_text[1:], "%H:%M")
        except ValueError:
            return iso
        iso += offset_text
    return iso


def _gps(gps: dict[int, Any]) -> dict[str, float] | None:
    latitude = _degrees(gps.get(2), gps.get(1), "S", 90)
    longitude = _degrees(gps.get(4), gps.get(3), "W", 180)
    if latitude is None or longitude is None:
        return None
    out = {"latitude": latitude, "longitude": longitude}
    altitude = _number(gps.get(6))
    if altitude is not None:
        below_sea = gps.get(5) in (1, b"\x01")
        out["altitude"] = round(-altitude if below_sea else altitude, 1)
    return out


def _degrees(dms: Any, ref: Any, negative: str, limit: int) -> float | None:
    if not isinstance(dms, tuple | list) or len(dms) != 3:
        return None
    parts = [_number(p) for p in dms]
    if any(p is None for p in parts):
        return None
    degrees, minutes, seconds = parts  # type: ignore[misc]
    value = degrees + minutes / 60 + seconds / 3600
    if not 0 <= value <= limit:
        return None
    return round(-value if _text(ref) == negative else value, 6)
