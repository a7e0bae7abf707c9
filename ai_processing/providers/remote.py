"""Helpers shared by the remote providers (Runware, Gemini). No Django.

- ``prepare_image``: the photo as an upright sRGB JPEG of at most ``max_side`` pixels on
  its long side, ready to send (both services cap or bill by size; 2048 is Runware's
  upload cap).
- ``parse_aspect``: a preset's print aspect ``"W:H"`` → ``(W, H)``.
- ``parse_caption_text``: free text from a captioning model → caption, alt text, keywords
  (best effort; see docs/ai.md "Runware and Gemini providers").
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

from .base import ImageInput, ProviderRejected

#: Long side, in pixels, of the JPEG sent to a remote provider.
MAX_SEND_SIDE = 2048
SEND_QUALITY = 90
#: Alt text longer than this is cut at a word boundary (screen readers prefer it short).
ALT_TEXT_MAX = 250
MAX_KEYWORDS = 12

_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "with",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "is",
        "are",
        "was",
        "were",
        "be",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "into",
        "over",
        "under",
        "near",
        "very",
        "mostly",
        "mainly",
        "some",
        "photo",
        "photograph",
        "picture",
        "image",
        "shows",
        "showing",
        "tones",
        "tone",
        "pixels",
        "pixel",
        "px",
        "caption",
        "alt",
        "text",
        "keywords",
        "keyword",
    }
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LABEL = re.compile(
    r"^\s*[-*]?\s*\**(caption|alt[ _-]?text|keywords?|tags)\**\s*[:=-]\s*(.*)$", re.I
)


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    width: int
    height: int
    mime_type: str = "image/jpeg"


def prepare_image(image: ImageInput, max_side: int = MAX_SEND_SIDE) -> PreparedImage:
    """The photo, upright and in RGB, downscaled to ``max_side`` and encoded as JPEG."""
    from PIL import Image, ImageOps

    try:
        source = io.BytesIO(image.data) if image.data is not None else image.path
        with Image.open(source) as pil:
            pil = ImageOps.exif_transpose(pil)
            pil.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale
            pil = pil.convert("RGB")
            pil.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            pil.save(buf, format="JPEG", quality=SEND_QUALITY, optimize=True)
            return PreparedImage(buf.getvalue(), pil.width, pil.height)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderRejected(f"The image could not be decoded: {exc}") from exc


def parse_aspect(aspect: str | None) -> tuple[int, int] | None:
    """``"4:5"`` (or ``"4x5"``, ``"4/5"``) → ``(4, 5)``; ``None`` for empty or invalid values."""
    if not aspect:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*", aspect)
    if not match:
        return None
    w, h = float(match.group(1)), float(match.group(2))
    if w <= 0 or h <= 0:
        return None
    scale = 1000 if (w % 1 or h % 1) else 1
    return round(w * scale), round(h * scale)


def sniff_mime(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def caption_instructions(prompt: str, *, as_json: bool) -> str:
    """The preset's prompt plus what we need back (so every provider is asked the same)."""
    base = prompt.strip() or "Describe this photo."
    if as_json:
        return (
            f"{base}\n\nAnswer with JSON only: "
            '{"caption": "<one sentence>", "alt_text": "<accessible description, under 250 '
            'characters>", "keywords": ["<5 to 10 single-word keywords>"]}'
        )
    return (
        f"{base}\n\nAnswer in three lines: 'Caption: <one sentence>', "
        "'Alt text: <accessible description, under 250 characters>', "
        "'Keywords: <5 to 10 comma-separated keywords>'."
    )


def parse_caption_text(text: str) -> tuple[str, str, list[str]]:
    """``(caption, alt_text, keywords)`` from a model's answer, best effort.

    In order: a JSON object (optionally in a ```json fence) with ``caption`` /
    ``alt_text`` (or ``altText``/``alt``) / ``keywords``; labelled lines
    (``Caption:``, ``Alt text:``, ``Keywords:``); else plain prose, where the caption is
    the first sentence, the alt text the whole text without parenthesised technical
    notes (cut to ``ALT_TEXT_MAX``), and the keywords the distinct content words (letters
    only, three or more, stop words such as "photo", "mostly", "tones" removed).
    Missing parts are filled the same way from what was found.
    """
    text = (text or "").strip()
    caption = alt = ""
    keywords: list[str] = []
    data = _json_object(text)
    if data is not None:
        caption = str(data.get("caption") or data.get("title") or "").strip()
        alt = str(data.get("alt_text") or data.get("altText") or data.get("alt") or "").strip()
        raw = data.get("keywords") or data.get("tags") or []
        keywords = _split_keywords(raw if isinstance(raw, list) else str(raw))
    else:
        prose: list[str] = []
        for line in text.splitlines():
            match = _LABEL.match(line)
            if not match:
                prose.append(line)
                continue
            label, value = match.group(1).lower(), match.group(2).strip().strip("*").strip()
            if label == "caption":
                caption = value
            elif label.startswith("alt"):
                alt = value
            else:
                keywords = _split_keywords(value)
        text = " ".join(part.strip() for part in prose if part.strip())
    source = text if data is None else caption or alt
    if not caption:
        caption = _SENTENCE_END.split(source, maxsplit=1)[0].strip() if source else ""
    if not alt:
        alt = _shorten(re.sub(r"\s*\([^)]*\)", "", source or caption).strip())
    if not keywords:
        keywords = _content_words(f"{caption} {alt}")
    return caption, alt, keywords[:MAX_KEYWORDS]


def _json_object(text: str) -> dict | None:
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", text, re.S)
    candidate = fenced.group(1) if fenced else text
    start, end = candidate.find("{"), candidate.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(candidate[start : end + 1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _split_keywords(raw: list | str) -> list[str]:
    items = raw if isinstance(raw, list) else re.split(r"[,;\n]", raw)
    seen: list[str] = []
    for item in items:
        word = str(item).strip().strip(".#*\"'").strip().lower()
        if word and word not in seen:
            seen.append(word)
    return seen


def _content_words(text: str) -> list[str]:
    seen: list[str] = []
    for word in re.findall(r"[A-Za-z][A-Za-z-]+", text.lower()):
        if len(word) >= 3 and word not in _STOPWORDS and word not in seen:
            seen.append(word)
    return seen


def _shorten(text: str) -> str:
    if len(text) <= ALT_TEXT_MAX:
        return text
    return text[: ALT_TEXT_MAX - 1].rsplit(" ", 1)[0].rstrip(",;: ") + "…"
