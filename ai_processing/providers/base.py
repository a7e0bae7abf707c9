"""The one interface every AI provider speaks: analyze, edit, caption (and upscale).

Plain data in and out, no Django: a provider is given an ``ImageInput`` and
returns a result dataclass, or raises one of three typed errors that tell the
fallback chain what to do next:

- ``ProviderUnavailable``: down, timed out, over capacity. Try the next
  provider, and count a failure against this one's circuit breaker.
- ``OperationNotSupported``: this provider cannot do this operation at all
  (the local provider writes no captions). Try the next; not a failure.
- ``ProviderRejected``: the provider answered, but refused this input (too
  large, unsafe, undecodable). Retrying the same provider would not help.

Each carries a human ``reason``, which ends up in the image's ``ai_metadata``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

Operation = Literal["analyze", "edit", "caption", "upscale"]
#: "upscale" enlarges an image by an integer factor (2..4, Runware's imageUpscale); it is no
#: preset operation: ``ai_processing.upscale.enlarge`` asks for it to reach print size.
OPERATIONS: tuple[str, ...] = ("analyze", "edit", "caption", "upscale")


# --- errors -------------------------------------------------------------------


class ProviderError(Exception):
    """Base of the provider errors; ``reason`` is a sentence a manager can read."""

    outcome: ClassVar[str] = "error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(ProviderError):
    """Down, timed out or over capacity: try the next provider."""

    outcome = "unavailable"


class OperationNotSupported(ProviderError):
    """This provider cannot do the operation: try the next (recorded as such)."""

    outcome = "unsupported"


class ProviderRejected(ProviderError):
    """The input was refused: do not retry it with the same provider."""

    outcome = "rejected"


# --- input --------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInput:
    """One image handed to a provider: its bytes or a path, its SHA-256 and its size.

    ``sha256`` is the hex digest of the file's bytes (the ingest step already
    has it); it keys the result cache. ``width``/``height`` are the upright
    pixel size when known.
    """

    sha256: str
    data: bytes | None = None
    path: Path | None = None
    width: int | None = None
    height: int | None = None
    mime_type: str | None = None

    def __post_init__(self) -> None:
        if self.data is None and self.path is None:
            raise ValueError("ImageInput needs data or a path")

    @classmethod
    def from_bytes(cls, data: bytes, **kwargs: Any) -> ImageInput:
        return cls(sha256=hashlib.sha256(data).hexdigest(), data=data, **kwargs)

    @classmethod
    def from_path(cls, path: str | Path, *, sha256: str | None = None, **kwargs: Any) -> ImageInput:
        path = Path(path)
        if sha256 is None:
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            sha256 = digest.hexdigest()
        return cls(sha256=sha256, path=path, **kwargs)

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


# --- results ------------------------------------------------------------------


@dataclass(frozen=True)
class AnalyzeResult:
    """Quality and content facts (a JSON-able dict), what made them and what they cost."""

    facts: dict[str, Any]
    model: str
    cost: float = 0.0

    def to_cache(self) -> tuple[dict[str, Any], bytes | None]:
        return {"facts": self.facts, "model": self.model, "cost": self.cost}, None

    @classmethod
    def from_cache(cls, payload: dict[str, Any], blob: bytes | None) -> AnalyzeResult:
        return cls(facts=payload["facts"], model=payload["model"], cost=payload["cost"])


@dataclass(frozen=True)
class EditResult:
    """A new image (encoded bytes), its type, cost, model and what was done."""

    image_bytes: bytes
    mime_type: str
    model: str
    cost: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def to_cache(self) -> tuple[dict[str, Any], bytes | None]:
        payload = {
            "mime_type": self.mime_type,
            "model": self.model,
            "cost": self.cost,
            "details": self.details,
        }
        return payload, self.image_bytes

    @classmethod
    def from_cache(cls, payload: dict[str, Any], blob: bytes | None) -> EditResult:
        if blob is None:
            raise KeyError("edit result without its image")
        return cls(
            image_bytes=blob,
            mime_type=payload["mime_type"],
            model=payload["model"],
            cost=payload["cost"],
            details=payload["details"],
        )


@dataclass(frozen=True)
class CaptionResult:
    """Text about the image: a caption, alt text for accessibility, keywords."""

    caption: str
    alt_text: str
    keywords: list[str]
    model: str
    cost: float = 0.0

    def to_cache(self) -> tuple[dict[str, Any], bytes | None]:
        payload = {
            "caption": self.caption,
            "alt_text": self.alt_text,
            "keywords": list(self.keywords),
            "model": self.model,
            "cost": self.cost,
        }
        return payload, None

    @classmethod
    def from_cache(cls, payload: dict[str, Any], blob: bytes | None) -> CaptionResult:
        return cls(**payload)


Result = AnalyzeResult | EditResult | CaptionResult
RESULT_TYPES: dict[str, type[AnalyzeResult] | type[EditResult] | type[CaptionResult]] = {
    "analyze": AnalyzeResult,
    "edit": EditResult,
    "caption": CaptionResult,
    "upscale": EditResult,  # an enlarged image, same shape as an edit's
}


# --- the interface ------------------------------------------------------------


class Provider(ABC):
    """One AI provider. ``name`` is its registry name; ``model`` keys its cached results.

    Change ``model`` when a provider's output for the same input changes (a new
    model version, a new local algorithm), so old cached results are not reused.
    """

    name: ClassVar[str]
    model: str
    #: The operations this provider can do at all; for the others it raises
    #: ``OperationNotSupported`` at once, so no concurrency slot is taken for them.
    operations: ClassVar[frozenset[str]] = frozenset(("analyze", "edit", "caption"))

    def model_for(self, operation: str) -> str:
        """The model that does ``operation`` (it keys cached results); most providers have one."""
        return self.model

    @abstractmethod
    def analyze(self, image: ImageInput) -> AnalyzeResult: ...

    @abstractmethod
    def edit(self, image: ImageInput, prompt: str, *, aspect: str | None = None) -> EditResult: ...

    @abstractmethod
    def caption(self, image: ImageInput, prompt: str) -> CaptionResult: ...

    def upscale(self, image: ImageInput, factor: int) -> EditResult:
        """The image enlarged ``factor`` times on each side. Not abstract: few providers can."""
        raise OperationNotSupported(f"{self.name} does not upscale images")
