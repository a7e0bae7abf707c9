"""The Gemini provider: image edits and captions through Google's ``google-genai`` SDK.

Default model ``gemini-3.1-flash-image`` ("Nano Banana 2"): ``gemini-2.5-flash-image`` was
shut down by Google on 2 Oct 2026. ``base_url`` points the SDK elsewhere (the local
simulator); the API version is pinned to ``v1beta`` (the SDK's own default is ``v1``
since 3.x, and image output is documented on ``v1beta``). No Django here.

- ``edit``: the photo (≤2048 px JPEG, ``Part.from_bytes``) + the prompt, with
  ``response_modalities=["TEXT", "IMAGE"]`` and ``image_config.aspect_ratio`` set to the
  supported ratio nearest to the preset's print aspect (or the photo's), and
  ``image_config.image_size`` ("1K", "2K", "4K") when ``image_size`` is set and the model
  is a Gemini 3 image model (the only ones that take it; 2K/4K are sent with the photo at
  up to 4096 px so the larger answer has detail to keep). An answer
  without an inline image → ``ProviderRejected`` naming the finishReason (the service
  answered, so the breaker is not charged; the chain moves on).
- ``caption``: a text-only call asking for JSON ``{caption, alt_text, keywords}``, parsed
  best effort (``remote.parse_caption_text``).
- ``analyze``: ``OperationNotSupported``. The local provider measures sharpness, exposure
  and noise; a language model's opinion of them would not be a measurement.

Errors (``google.genai.errors.APIError.code``): 429 and 5xx → ``ProviderUnavailable``
(with Google's ``RetryInfo.retryDelay`` in the reason when given); a refused key (400
``API_KEY_INVALID``, 401, 403) and an unknown model (404) → ``ProviderUnavailable`` too,
because every call would fail the same way, so the circuit should open; other 4xx →
``ProviderRejected``. Network errors and timeouts → ``ProviderUnavailable``.

Cost is an estimate from ``usageMetadata`` (Google bills tokens; the answer carries no
price): output image tokens times ``image_usd_per_mtok`` + other tokens at the text prices.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import httpx

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


def _transport_modules() -> list[Any]:
    """google-genai 3.x sends through ``httpx2`` (pydantic's successor of httpx), older
    releases through ``httpx``: catch the network errors of whichever is installed."""
    modules: list[Any] = [httpx]
    try:
        import httpx2
    except ImportError:
        pass
    else:
        modules.append(httpx2)
    return modules


_TIMEOUTS: tuple[type[Exception], ...] = tuple(m.TimeoutException for m in _transport_modules())
_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    *(m.HTTPError for m in _transport_modules()),
    OSError,
)

DEFAULT_MODEL = "gemini-3.1-flash-image"
API_VERSION = "v1beta"
#: The aspect ratios the API accepts in ``imageConfig.aspectRatio``.
ASPECT_RATIOS: tuple[str, ...] = (
    "1:1",
    "2:3",
    "3:2",
    "3:4",
    "4:3",
    "4:5",
    "5:4",
    "9:16",
    "16:9",
    "21:9",
)
#: ``imageConfig.imageSize`` values (uppercase K, as Google documents them).
IMAGE_SIZES: tuple[str, ...] = ("1K", "2K", "4K")
HIRES_SEND_SIDE = 4096


def takes_image_size(model: str) -> bool:
    """Gemini 3 image models take ``imageSize``; 2.5 Flash Image answered at 1K only."""
    return model.startswith("gemini-3") and "image" in model


#: USD per million image-output tokens, by model family (Google's pricing page: 2.5 Flash
#: Image $30, 3.1 Flash Image $60, 3 Pro Image $120; one 1K/2K image is 1120 tokens on the
#: Gemini 3 models, 2000 at 4K; 1290 on 2.5).
IMAGE_PRICES_PER_MTOK: tuple[tuple[str, float], ...] = (
    ("gemini-3-pro-image", 120.0),
    ("gemini-3.1-flash-image", 60.0),
    ("gemini-2.5-flash-image", 30.0),
)


def image_price_per_mtok(model: str) -> float:
    prices = (price for prefix, price in IMAGE_PRICES_PER_MTOK if model.startswith(prefix))
    return next(prices, 30.0)


#: finishReasons that mean the content was refused (anything else without an image: no image).
REFUSALS = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_RECITATION",
    }
)


def nearest_aspect_ratio(width: float, height: float) -> str:
    ratio = width / height
    return min(ASPECT_RATIOS, key=lambda a: abs(_ratio(a) - ratio))


def _ratio(aspect: str) -> float:
    w, h = aspect.split(":")
    return int(w) / int(h)


#: No tools are passed, so automatic function calling is off (and its log line with it).
_NO_AFC = {"disable": True}


class GeminiProvider(Provider):
    name: ClassVar[str] = "gemini"
    operations: ClassVar[frozenset[str]] = frozenset({"edit", "caption"})

    def model_for(self, operation: str) -> str:
        if operation == "edit" and self.image_size:
            return f"{self.model}@{self.image_size}"  # a 4K answer is another result
        return self.model

    def __init__(
        self,
        *,
        api_key: str,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        api_version: str = API_VERSION,
        timeout: float = 120.0,
        max_side: int = MAX_SEND_SIDE,
        image_usd_per_mtok: float | None = None,
        input_usd_per_mtok: float = 0.30,
        text_usd_per_mtok: float = 2.50,
        image_size: str | None = None,
    ) -> None:
        if image_size is not None and image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be one of {', '.join(IMAGE_SIZES)}")
        #: Sent only to models that take it (``takes_image_size``).
        self.image_size = image_size if image_size and takes_image_size(model) else None
        self.api_key = api_key
        self.model = model
        self.base_url = base_url or None
        self.api_version = api_version
        self.timeout = timeout
        self.max_side = max_side
        if image_usd_per_mtok is None:
            image_usd_per_mtok = image_price_per_mtok(model)
        self.prices = (image_usd_per_mtok, input_usd_per_mtok, text_usd_per_mtok)
        self._sdk: Any = None
        self._lock = threading.Lock()

    def _client(self) -> Any:
        """The SDK client, made on first use (it holds an httpx client; one per provider)."""
        with self._lock:
            if self._sdk is None:
                from google import genai
                from google.genai import types

                options = types.HttpOptions(
                    base_url=self.base_url,
                    api_version=self.api_version,
                    timeout=int(self.timeout * 1000),  # milliseconds
                )
                self._sdk = genai.Client(api_key=self.api_key, http_options=options)
            return self._sdk

    # --- operations -----------------------------------------------------------

    def analyze(self, image: ImageInput) -> AnalyzeResult:
        raise OperationNotSupported(
            "The Gemini provider does not analyse images; the local provider measures them"
        )

    def edit(self, image: ImageInput, prompt: str, *, aspect: str | None = None) -> EditResult:
        from google.genai import types

        size = self.image_size
        max_side = HIRES_SEND_SIDE if size in ("2K", "4K") else self.max_side
        photo = prepare_image(image, max(self.max_side, max_side))
        target = parse_aspect(aspect) or (photo.width, photo.height)
        ratio = nearest_aspect_ratio(*target)
        config = types.GenerateContentConfig(
            automatic_function_calling=_NO_AFC,
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio=ratio, image_size=size),
        )
        contents = [types.Part.from_bytes(data=photo.data, mime_type=photo.mime_type), prompt]
        with _mapped_errors():
            response = self._client().models.generate_content(
                model=self.model, contents=contents, config=config
            )
        data, texts = _image_and_text(response)
        if data is None:
            raise _no_image(response, texts)
        return EditResult(
            image_bytes=data,
            mime_type=sniff_mime(data),
            model=self.model,
            cost=self._cost(response),
            details={
                "operation": "edit",
                "aspect_ratio": ratio,
                "image_size": size or "1K (model default)",
                "aspect": aspect,
                "sent_size": [photo.width, photo.height],
                "model_text": " ".join(texts)[:500],
                "usage": _usage(response),
                "cost_estimated": True,
            },
        )

    def caption(self, image: ImageInput, prompt: str) -> CaptionResult:
        from google.genai import types

        photo = prepare_image(image, self.max_side)
        config = types.GenerateContentConfig(
            automatic_function_calling=_NO_AFC, response_modalities=["TEXT"]
        )
        contents = [
            types.Part.from_bytes(data=photo.data, mime_type=photo.mime_type),
            caption_instructions(prompt, as_json=True),
        ]
        with _mapped_errors():
            response = self._client().models.generate_content(
                model=self.model, contents=contents, config=config
            )
        _data, texts = _image_and_text(response)
        text = "\n".join(texts).strip()
        if not text:
            raise _no_image(response, texts, what="caption")
        caption, alt_text, keywords = parse_caption_text(text)
        return CaptionResult(
            caption=caption,
            alt_text=alt_text,
            keywords=keywords,
            model=self.model,
            cost=self._cost(response),
        )

    def _cost(self, response: Any) -> float:
        usage = getattr(response, "usage_metadata", None)
        if usage is None:
            return 0.0
        image_price, input_price, text_price = self.prices
        image_tokens = 0
        for detail in usage.candidates_tokens_details or []:
            if str(getattr(detail.modality, "value", detail.modality)) == "IMAGE":
                image_tokens += detail.token_count or 0
        text_tokens = max(0, (usage.candidates_token_count or 0) - image_tokens)
        prompt_tokens = usage.prompt_token_count or 0
        usd = image_tokens * image_price + text_tokens * text_price + prompt_tokens * input_price
        return round(usd / 1e6, 6)


# --- answers ------------------------------------------------------------------


def _image_and_text(response: Any) -> tuple[bytes | None, list[str]]:
    image: bytes | None = None
    texts: list[str] = []
    for candidate in response.candidates or []:
        content = candidate.content
        for part in (content.parts if content is not None else None) or []:
            inline = part.inline_data
            if image is None and inline is not None and inline.data:
                image = inline.data
            elif part.text and not part.thought:
                texts.append(part.text)
        if image is not None:
            break
    return image, texts


def _no_image(response: Any, texts: list[str], what: str = "image") -> ProviderRejected:
    candidates = response.candidates or []
    finish = candidates[0].finish_reason if candidates else None
    finish = str(getattr(finish, "value", finish) or "none")
    feedback = getattr(response, "prompt_feedback", None)
    block = getattr(feedback, "block_reason", None) if feedback is not None else None
    said = f'; it said: "{" ".join(texts)[:200]}"' if texts else ""
    if block is not None:
        reason = str(getattr(block, "value", block))
        return ProviderRejected(f"Gemini blocked the request ({reason}){said}")
    kind = "refused" if finish in REFUSALS else "answered without"
    return ProviderRejected(f"Gemini {kind} an {what} (finishReason {finish}){said}")


def _usage(response: Any) -> dict[str, Any]:
    usage = getattr(response, "usage_metadata", None)
    if usage is None:
        return {}
    return {
        "prompt_tokens": usage.prompt_token_count,
        "candidates_tokens": usage.candidates_token_count,
        "total_tokens": usage.total_token_count,
    }


# --- errors -------------------------------------------------------------------


@contextmanager
def _mapped_errors() -> Iterator[None]:
    from google.genai import errors

    try:
        yield
    except errors.APIError as exc:
        raise provider_error(exc) from exc
    except _TIMEOUTS as exc:
        raise ProviderUnavailable(f"Gemini timed out: {exc}") from exc
    except _TRANSPORT_ERRORS as exc:
        raise ProviderUnavailable(f"Gemini could not be reached: {exc}") from exc


def provider_error(exc: Any) -> ProviderUnavailable | ProviderRejected:
    """A ``google.genai.errors.APIError`` → the provider error the chain understands."""
    code = int(getattr(exc, "code", 0) or 0)
    status = getattr(exc, "status", None) or ""
    message = getattr(exc, "message", None) or str(exc)
    details = _details(exc)
    reasons = {d.get("reason") for d in details if isinstance(d, dict)}
    if "API_KEY_INVALID" in reasons or code in (401, 403):
        return ProviderUnavailable(
            f"Gemini refused the API key ({code} {status}: {message}); check GEMINI_API_KEY"
        )
    if code == 404:
        return ProviderUnavailable(
            f"Gemini does not serve this model ({code} {status}: {message}); check GEMINI_MODEL "
            "(gemini-2.5-flash-image was shut down on 2 Oct 2026)"
        )
    if code == 429:
        delay = next(
            (d.get("retryDelay") for d in details if isinstance(d, dict) and d.get("retryDelay")),
            None,
        )
        wait = f"; retry after {delay}" if delay else ""
        return ProviderUnavailable(f"Gemini quota exhausted ({code} {status}: {message}){wait}")
    if code >= 500 or code in (408,):
        return ProviderUnavailable(f"Gemini is unavailable ({code} {status}: {message})")
    return ProviderRejected(f"Gemini rejected the request ({code} {status}: {message})")


def _details(exc: Any) -> list[Any]:
    """``error.details`` of Google's error body (the SDK keeps the whole body in ``details``)."""
    body = getattr(exc, "details", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        found = error.get("details") if isinstance(error, dict) else None
        return found if isinstance(found, list) else []
    return body if isinstance(body, list) else []
