"""Captions, alt text and keywords written into a JPEG as an XMP packet (no Django).

``embed_caption(jpeg_bytes, caption=..., alt_text=..., keywords=...)`` returns the
same JPEG with one XMP APP1 segment (header ``http://ns.adobe.com/xap/1.0/\\0``)
holding

- ``dc:description`` (language alternative, ``x-default``) = the caption,
- ``dc:subject`` (bag) = the keywords,
- ``Iptc4xmpCore:AltTextAccessibility`` (language alternative) = the alt text,

UTF-8, XML-escaped. The segment goes right after SOI and the leading APP0
(JFIF/JFXX) and Exif APP1 segments, so Exif stays first as readers expect. An
existing XMP packet (and any Extended XMP belonging to it) is replaced, never
duplicated. Every other segment and the entropy-coded image data from SOS on
are copied byte for byte, so the pixels are untouched.

IPTC IIM (APP13, Photoshop IRB) is not written: Lightroom, Photoshop, Bridge,
exiftool, digiKam, Windows and macOS all read XMP, which IPTC itself maps the
same fields to (IPTC Photo Metadata Standard, "IPTC Core" XMP schema).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from xml.sax.saxutils import escape

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXTENSION_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
EXIF_HEADER = b"Exif\x00\x00"
#: An APP segment's length field counts itself: 65535 - 2 - len(XMP_HEADER).
MAX_PACKET = 65535 - 2 - len(XMP_HEADER)

SOI, SOS, EOI = 0xD8, 0xDA, 0xD9
APP0, APP1 = 0xE0, 0xE1
#: Markers with no length field (TEM, RST0-7, SOI, EOI).
STANDALONE = {0x01, *range(0xD0, 0xD8), SOI, EOI}

# Characters XML 1.0 cannot carry at all, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
}


class NotAJpeg(ValueError):
    """The bytes are not a JPEG this module can walk (no SOI, truncated segment, no SOS)."""


def _text(value: str) -> str:
    return escape(_INVALID_XML.sub("", value))


def _lang_alt(tag: str, value: str) -> str:
    return (
        f'   <{tag}><rdf:Alt><rdf:li xml:lang="x-default">{_text(value)}</rdf:li>'
        f"</rdf:Alt></{tag}>\n"
    )


def xmp_packet(*, caption: str, alt_text: str, keywords: Iterable[str]) -> bytes:
    """The XMP packet (UTF-8) for a caption, alt text and keywords; empty fields are left out."""
    words = [w.strip() for w in keywords if w and w.strip()]
    body = ""
    if caption and caption.strip():
        body += _lang_alt("dc:description", caption.strip())
    if words:
        items = "".join(f"<rdf:li>{_text(w)}</rdf:li>" for w in words)
        body += f"   <dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject>\n"
    if alt_text and alt_text.strip():
        body += _lang_alt("Iptc4xmpCore:AltTextAccessibility", alt_text.strip())
    xml = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{NS["x"]}">\n'
        f' <rdf:RDF xmlns:rdf="{NS["rdf"]}">\n'
        f'  <rdf:Description rdf:about="" xmlns:dc="{NS["dc"]}"\n'
        f'    xmlns:Iptc4xmpCore="{NS["Iptc4xmpCore"]}">\n'
        f"{body}"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return xml.encode("utf-8")


def segments(jpeg: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The header segments as ``(marker, whole segment bytes)`` and the offset of SOS.

    Raises ``NotAJpeg`` when the data is not a walkable JPEG.
    """
    if jpeg[:2] != b"\xff\xd8":
        raise NotAJpeg("no SOI marker")
    found: list[tuple[int, bytes]] = []
    pos, size = 2, len(jpeg)
    while pos < size:
        if jpeg[pos] != 0xFF:
            raise NotAJpeg(f"expected a marker at byte {pos}")
        start = pos
        while pos < size and jpeg[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            break
        marker = jpeg[pos]
        pos += 1
        if marker == SOS:
            return found, start
        if marker in STANDALONE:
            found.append((marker, jpeg[start:pos]))
            continue
        if pos + 2 > size:
            raise NotAJpeg("truncated segment length")
        length = int.from_bytes(jpeg[pos : pos + 2], "big")
        if length < 2 or pos + length > size:
            raise NotAJpeg(f"bad segment length at byte {pos}")
        pos += length
        found.append((marker, jpeg[start:pos]))
    raise NotAJpeg("no SOS marker")


def _payload(segment: bytes) -> bytes:
    """A segment's data after the marker and length (fill bytes skipped)."""
    i = 0
    while segment[i] == 0xFF:
        i += 1
    return segment[i + 3 :]


def _is_xmp(marker: int, segment: bytes) -> bool:
    if marker != APP1:
        return False
    data = _payload(segment)
    return data.startswith(XMP_HEADER) or data.startswith(XMP_EXTENSION_HEADER)


def embed_caption(
    jpeg_bytes: bytes, *, caption: str, alt_text: str, keywords: Iterable[str]
) -> bytes:
    """``jpeg_bytes`` with an XMP packet carrying caption, alt text and keywords.

    Replaces any XMP already there; everything else is kept byte for byte.
    Raises ``NotAJpeg`` for data it cannot walk and ``ValueError`` when the
    packet would not fit one APP1 segment (64 KB).
    """
    found, sos = segments(jpeg_bytes)
    packet = xmp_packet(caption=caption, alt_text=alt_text, keywords=keywords)
    if len(packet) > MAX_PACKET:
        raise ValueError(f"XMP packet of {len(packet)} bytes does not fit one APP1 segment")
    payload = XMP_HEADER + packet
    xmp = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    kept = [(m, s) for m, s in found if not _is_xmp(m, s)]
    # After the leading APP0 (JFIF/JFXX) and Exif APP1 segments.
    at = 0
    while at < len(kept) and (
        kept[at][0] == APP0
        or (kept[at][0] == APP1 and _payload(kept[at][1]).startswith(EXIF_HEADER))
    ):
        at += 1
    head = b"".join(s for _, s in kept[:at])
    tail = b"".join(s for _, s in kept[at:])
    return b"\xff\xd8" + head + xmp + tail + jpeg_bytes[sos:]


def read_xmp(jpeg_bytes: bytes) -> list[bytes]:
    """Every standard XMP packet in the JPEG's header (for checks; normally zero or one)."""
    found, _ = segments(jpeg_bytes)
    return [
        _payload(s)[len(XMP_HEADER) :]
        for m, s in found
        if m == APP1 and _payload(s).startswith(XMP_HEADER)
    ]
