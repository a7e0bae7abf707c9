"""The Runware provider: edits with Nano Banana (``google:4@1``) and captions over Runware.

Uses the project's Runware client (``ai_processing.clients.runware``: one shared,
authenticated WebSocket per process). No Django here; the registry builds it from settings.

- ``edit``: the photo, downscaled to at most 2048 px and sent as JPEG, goes in
  ``inputs.referenceImages``; the output size is the model's allowed size nearest to the
  preset's print aspect (when given) or the photo's; the result URL is downloaded.
- ``caption``: Runware's ``imageCaption`` task with a prompt asking for caption, alt text
  and keywords; the text is parsed best effort (``remote.parse_caption_text``).
- ``analyze``: Runware has no analysis task, so ``OperationNotSupported``; the chain moves
  on to the next provider (not counted against the breaker).
- ``upscale``: Runware's ``imageUpscale`` (factor 2, 3 or 4), the image sent whole (not
  downscaled: it is what we want enlarged), the result downloaded.
- High-resolution edits: with ``hires_model`` (``RUNWARE_EDIT_MODEL_HIRES``, e.g.
  ``google:4@2``, Nano Banana Pro), edits go to that model at its ``hires_resolution`` tier
  ("2K" or "4K", the size of the tier nearest the aspect), with the photo sent at up to
  ``HIRES_SEND_SIDE`` px; captions stay on ``model``. See docs/ai.md "Full resolution:
  generative edits".

Client errors become provider errors: a refused key, capacity, timeouts, connection and
server failures → ``ProviderUnavailable`` (the circuit counts them); a bad request →
``ProviderRejected``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from ai_processing.clients.errors import (
    RunwareAuthError,
    RunwareBadRequest,
    RunwareCapacityError,
    RunwareConnectionError,
    RunwareError,
    RunwareServerError,
    RunwareTimeout,
)
from ai_processing.clients.runware import RunwareClient, get_client
from ai_processing.clients.sizes import (
    RESOLUTION_TIERS,
    UPSCALE_FACTORS,
    nearest_allowed_size,
    tier_of,
)

from .base import (
    AnalyzeResult,
    CaptionResult,
    EditResult,
    ImageInput,
    OperationNotSupported,
    Provider,
    ProviderRejected,
    ProviderUnavailable,
)
from .remote import (
    MAX_SEND_SIDE,
    caption_instructions,
    parse_aspect,
    parse_caption_text,
    prepare_image,
    sniff_mime,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL = "google:4@1"
#: Long side of the photo sent to a high-resolution model: a 4K answer can only keep detail
#: the reference carried (Runware's stated 2048 px cap is for ``imageUpload``; inline
#: reference images are not documented as capped).
HIRES_SEND_SIDE = 4096
#: JPEG (at Runware's default quality, 95): a 16 MP PNG is 30 MB or more to download and
#: decode, and the final resize re-encodes once more anyway (one more q95 pass is invisible).
UPSCALE_FORMAT = "JPG"


class RunwareProvider(Provider):
    name: ClassVar[str] = "runware"
    operations: ClassVar[frozenset[str]] = frozenset({"edit", "caption", "upscale"})

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        model: str = DEFAULT_MODEL,
        task_timeout: float = 120.0,
        connect_timeout: float = 10.0,
        http_timeout: float = 30.0,
        connect_attempts: int = 3,
        max_side: int = MAX_SEND_SIDE,
        hires_model: str | None = None,
        hires_resolution: str = "4K",
        upscale_model: str | None = None,
    ) -> None:
        self.url = url
        self.api_key = api_key
        self.model = model
        self.max_side = max_side
        self.hires_model = hires_model or None
        self.hires_resolution = hires_resolution.upper()
        if self.hires_model is not None:
            tiers = RESOLUTION_TIERS.get(self.hires_model)
            if tiers is None:
                raise ValueError(
                    f"{self.hires_model} has no resolution tiers; known high-resolution models: "
                    f"{', '.join(RESOLUTION_TIERS)}"
                )
            if self.hires_resolution not in tiers:
                raise ValueError(
                    f"{self.hires_model} answers at {', '.join(tiers)}, not {hires_resolution!r}"
                )
        self.upscale_model = upscale_model or None
        self._client_options: dict[str, Any] = {
            "task_timeout": task_timeout,
            "connect_timeout": connect_timeout,
            "http_timeout": http_timeout,
            "connect_attempts": connect_attempts,
        }

    def _client(self) -> RunwareClient:
        return get_client(self.api_key, self.url, **self._client_options)

    @property
    def edit_model(self) -> str:
        return self.hires_model or self.model

    def model_for(self, operation: str) -> str:
        if operation == "edit" and self.hires_model:
            return f"{self.hires_model}@{self.hires_resolution}"  # a 2K and a 4K answer differ
        if operation == "upscale":
            return f"imageUpscale:{self.upscale_model or 'default'}"
        return self.model

    # --- operations -----------------------------------------------------------

    def analyze(self, image: ImageInput) -> AnalyzeResult:
        raise OperationNotSupported(
            "Runware has no image-analysis task; the next provider analyses the image"
        )

    def edit(self, image: ImageInput, prompt: str, *, aspect: str | None = None) -> EditResult:
        model = self.edit_model
        hires = self.hires_model is not None
        send_side = max(self.max_side, HIRES_SEND_SIDE) if hires else self.max_side
        photo = prepare_image(image, send_side)
        target = parse_aspect(aspect) or (photo.width, photo.height)
        tier = self.hires_resolution if hires else None
        width, height = nearest_allowed_size(*target, model=model, tier=tier)
        with _mapped_errors():
            client = self._client()
            result = client.image_inference(
                photo.data, prompt, model=model, width=width, height=height
            )
            if not result.image_url:
                raise ProviderUnavailable("Runware answered the edit without an image URL")
            data = client.download(result.image_url)
        return EditResult(
            image_bytes=data,
            mime_type=sniff_mime(data),
            model=model,
            cost=float(result.cost or 0.0),
            details={
                "operation": "edit",
                "width": width,
                "height": height,
                "resolution": tier_of(model, width, height),
                "aspect": aspect,
                "sent_size": [photo.width, photo.height],
                "image_uuid": result.image_uuid,
                "seed": result.seed,
            },
        )

    def upscale(self, image: ImageInput, factor: int) -> EditResult:
        if isinstance(factor, bool) or factor not in UPSCALE_FACTORS:
            raise ProviderRejected(f"Runware upscales by 2, 3 or 4, not {factor!r}")
        try:
            data = image.read_bytes()
        except OSError as exc:
            raise ProviderRejected(f"The image could not be read: {exc}") from exc
        if sniff_mime(data) == "application/octet-stream":
            raise ProviderRejected("Runware upscales PNG, JPEG or WEBP only")
        with _mapped_errors():
            client = self._client()
            result = client.upscale(
                data, factor, output_format=UPSCALE_FORMAT, model=self.upscale_model
            )
            if not result.image_url:
                raise ProviderUnavailable("Runware answered the upscale without an image URL")
            out = client.download(result.image_url)
        return EditResult(
            image_bytes=out,
            mime_type=sniff_mime(out),
            model=f"runware imageUpscale ({self.upscale_model or 'default upscaler'})",
            cost=float(result.cost or 0.0),
            details={
                "operation": "upscale",
                "method": "Runware imageUpscale (AI upscaler)",
                "factor": factor,
                "image_uuid": result.image_uuid,
                "input_image_uuid": result.input_image_uuid,
            },
        )

    def caption(self, image: ImageInput, prompt: str) -> CaptionResult:
        photo = prepare_image(image, self.max_side)
        with _mapped_errors():
            result = self._client().caption(photo.data, caption_instructions(prompt, as_json=False))
        if not result.text.strip():
            raise ProviderRejected("Runware returned an empty caption")
        caption, alt_text, keywords = parse_caption_text(result.text)
        return CaptionResult(
            caption=caption,
            alt_text=alt_text,
            keywords=keywords,
            model=self.model,
            cost=float(result.cost or 0.0),
        )


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """Runware client errors → provider errors (see the module docstring)."""
    try:
        yield
    except RunwareError as exc:
        raise provider_error(exc) from exc


def provider_error(exc: RunwareError) -> ProviderUnavailable | ProviderRejected:
    if isinstance(exc, RunwareAuthError):
        return ProviderUnavailable(f"Runware refused the API key ({exc}); check RUNWARE_API_KEY")
    if isinstance(exc, RunwareCapacityError):
        return ProviderUnavailable(f"Runware is over capacity: {exc}")
    if isinstance(exc, RunwareTimeout):
        return ProviderUnavailable(f"Runware timed out: {exc}")
    if isinstance(exc, RunwareConnectionError):
        return ProviderUnavailable(f"Runware could not be reached: {exc}")
    if isinstance(exc, RunwareServerError):
        return ProviderUnavailable(f"Runware failed on its side: {exc}")
    if isinstance(exc, RunwareBadRequest):
        where = f" (parameter {exc.parameter})" if exc.parameter else ""
        return ProviderRejected(f"Runware rejected the request{where}: {exc}")
    return ProviderUnavailable(f"Runware error: {exc}")
