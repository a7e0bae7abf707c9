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
from ai_processing.clients.sizes import nearest_allowed_size

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


class RunwareProvider(Provider):
    name: ClassVar[str] = "runware"
    operations: ClassVar[frozenset[str]] = frozenset({"edit", "caption"})

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
    ) -> None:
        self.url = url
        self.api_key = api_key
        self.model = model
        self.max_side = max_side
        self._client_options: dict[str, Any] = {
            "task_timeout": task_timeout,
            "connect_timeout": connect_timeout,
            "http_timeout": http_timeout,
            "connect_attempts": connect_attempts,
        }

    def _client(self) -> RunwareClient:
        return get_client(self.api_key, self.url, **self._client_options)

    # --- operations -----------------------------------------------------------

    def analyze(self, image: ImageInput) -> AnalyzeResult:
        raise OperationNotSupported(
            "Runware has no image-analysis task; the next provider analyses the image"
        )

    def edit(self, image: ImageInput, prompt: str, *, aspect: str | None = None) -> EditResult:
        photo = prepare_image(image, self.max_side)
        target = parse_aspect(aspect) or (photo.width, photo.height)
        width, height = nearest_allowed_size(*target, model=self.model)
        with _mapped_errors():
            client = self._client()
            result = client.image_inference(
                photo.data, prompt, model=self.model, width=width, height=height
            )
            if not result.image_url:
                raise ProviderUnavailable("Runware answered the edit without an image URL")
            data = client.download(result.image_url)
        return EditResult(
            image_bytes=data,
            mime_type=sniff_mime(data),
            model=self.model,
            cost=float(result.cost or 0.0),
            details={
                "operation": "edit",
                "width": width,
                "height": height,
                "aspect": aspect,
                "sent_size": [photo.width, photo.height],
                "image_uuid": result.image_uuid,
                "seed": result.seed,
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
