"""What a file really is, told by its first bytes.

The name and the Content-Type come from the client and prove nothing: a web
page saved as ``photo.jpg`` must be refused before any decoder sees it, and an
SVG (which can carry scripts) must never reach one. So the type is read from
the file's signature, and only the five photo formats we accept go on to the
decoder; everything else is refused with a sentence naming what it looks like.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ACCEPTED_TYPES, ImageRejected

#: How many leading bytes ``sniff`` needs (enough to find an SVG after an XML prolog).
SNIFF_BYTES = 4096

#: HEIF brands whose pictures are HEVC-coded (Apple's and others' "HEIC").
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
#: Structural HEIF brands: a HEIF file, codec told by the other brands.
_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}
_VIDEO_BRANDS = {b"isom", b"iso2", b"mp41", b"mp42", b"M4V ", b"qt  ", b"3gp4", b"3gp5", b"avc1"}


@dataclass(frozen=True)
class Sniffed:
    """An accepted format: short name, MIME type, the label people know, the decoder to use."""

    format: str
    mime_type: str
    label: str
    loader: str


JPEG = Sniffed("jpeg", "image/jpeg", "JPEG", "jpegload")
PNG = Sniffed("png", "image/png", "PNG", "pngload")
TIFF = Sniffed("tiff", "image/tiff", "TIFF", "tiffload")
WEBP = Sniffed("webp", "image/webp", "WebP", "webpload")
#: HEIC/HEIF pixels are decoded by pillow-heif, not libvips (see ``heif``).
HEIF_LOADER = "pillow_heif"
HEIC = Sniffed("heic", "image/heic", "HEIC", HEIF_LOADER)
HEIF = Sniffed("heif", "image/heif", "HEIF", HEIF_LOADER)


def _refuse(what: str, code: str) -> ImageRejected:
    return ImageRejected(
        f"This is {what}, not a photograph: accepted types are {ACCEPTED_TYPES}.", code=code
    )


def sniff(head: bytes) -> Sniffed:
    """Tell the format from the file's first bytes (``SNIFF_BYTES`` of them suffice).

    Returns the accepted format, or raises ``ImageRejected`` naming what the
    file appears to be.
    """
    if not head:
        raise ImageRejected("The file is empty (0 bytes).", code="empty")
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        if head[8:10] == b"CR":  # Canon CR2 is TIFF-shaped; its first picture is a preview
            raise _refuse("a camera RAW file (Canon CR2)", "raw")
        return TIFF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        return _iso_media(head)
    raise _other(head)


def _iso_media(head: bytes) -> Sniffed:
    """HEIC/HEIF, or another file of the ISO media family (AVIF, video, Canon CR3)."""
    size = int.from_bytes(head[0:4], "big")
    box = head[8 : min(max(size, 16), len(head))]
    brands = {box[i : i + 4] for i in range(0, len(box) - 3, 4) if i != 4}  # skip minor version
    major = head[8:12]
    if major in _HEIC_BRANDS or brands & _HEIC_BRANDS:
        return HEIC
    if major in _AVIF_BRANDS or brands & _AVIF_BRANDS:
        raise ImageRejected(
            f"This is an AVIF image, which is not accepted: accepted types are {ACCEPTED_TYPES}.",
            code="avif",
        )
    if major in _HEIF_BRANDS or brands & _HEIF_BRANDS:
        return HEIF
    if major == b"crx ":
        raise _refuse("a camera RAW file (Canon CR3)", "raw")
    if major in _VIDEO_BRANDS or brands & _VIDEO_BRANDS:
        raise _refuse("a video", "video")
    raise _other(head)


#: Signatures of common binary non-photo files, with what to call them.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"8BPS", "a Photoshop document (PSD)", "psd"),
    (b"BM", "a BMP bitmap", "bmp"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)", "archive"),
    (b"Rar!\x1a\x07", "a RAR archive", "archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "archive"),
    (b"\x1f\x8b", "a gzip archive", "archive"),
    (b"\x00\x00\x01\x00", "an icon (ICO)", "ico"),
    (b"MZ", "a Windows program", "program"),
    (b"\x7fELF", "a program", "program"),
    (b"FUJIFILMCCD-RAW", "a camera RAW file (Fujifilm RAF)", "raw"),
    (b"IIRO", "a camera RAW file (Olympus ORF)", "raw"),
    (b"IIU\x00", "a camera RAW file (Panasonic RW2)", "raw"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image", "jp2"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 image", "jp2"),
)


def _other(head: bytes) -> ImageRejected:
    """Name a refused file as precisely as its first bytes allow."""
    if head.startswith((b"GIF87a", b"GIF89a")):
        return ImageRejected(
            f"This is a GIF image, which is not accepted: accepted types are {ACCEPTED_TYPES}.",
            code="gif",
        )
    if head.startswith(b"%PDF-"):  # before the text test: a PDF may start as plain ASCII
        return _refuse("a PDF document", "pdf")
    text = _as_text(head)
    if text is not None:
        return _text_kind(text)
    for signature, what, code in _SIGNATURES:
        if head.startswith(signature):
            return _refuse(what, code)
    return ImageRejected(
        f"This file is not an image we recognise: accepted types are {ACCEPTED_TYPES}.",
        code="unknown",
    )


def _text_kind(text: str) -> ImageRejected:
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if "<svg" in lowered:
        return _refuse("an SVG drawing", "svg")
    if lowered.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in lowered:
        return _refuse("a web page (HTML)", "html")
    if lowered.startswith("<?xml"):
        return _refuse("an XML document", "xml")
    if lowered.startswith(("{", "[")):
        return _refuse("a data file (JSON)", "text")
    return _refuse("a text file", "text")


def _as_text(head: bytes) -> str | None:
    """The head as text if it reads as UTF-8 or UTF-16 without control bytes, else None."""
    for bom, encoding in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            try:
                return head[2:].decode(encoding, errors="ignore")
            except UnicodeDecodeError:  # pragma: no cover - ignore never raises
                return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data":  # not a character cut by the 4 kB limit
            return None
        text = head[: exc.start].decode("utf-8")
    if any(ch < " " and ch not in "\t\r\n\f" for ch in text):
        return None
    return text
