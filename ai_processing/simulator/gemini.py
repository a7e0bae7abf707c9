"""Local Gemini API simulator: ``generateContent`` for image models, Google's error shape.

``python -m ai_processing.simulator.gemini --host 127.0.0.1 --port 56792 [--api-key KEY]``

Speaks the Gemini API's REST protocol (/work/shared/protocols/runware-and-gemini.md §3) so
Google's own ``google-genai`` SDK works against it unchanged with
``HttpOptions(base_url="http://HOST:PORT")``. Edits are the Runware simulator's
deterministic Pillow operations (``imaging.edit``); captions come from the pixels. No Django.
See docs/ai.md "Gemini simulator".
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import logging
import random
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from ai_processing.simulator import imaging
from utilities.simulation.background import BackgroundServer
from utilities.simulation.control import ControlEndpoints

logger = logging.getLogger(__name__)

#: Image models served (gemini-2.5-flash-image was shut down on 2 Oct 2026: 404 here too).
IMAGE_MODELS = frozenset(
    {
        "gemini-3.1-flash-image",
        "gemini-3.1-flash-image-preview",
        "gemini-3-pro-image",
        "gemini-3-pro-image-preview",
    }
)
TEXT_MODELS = frozenset({"gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-flash", "gemini-3-pro"})
#: imageSize → aspectRatio → output size of the Gemini 3 image models, as Google's
#: image-generation page tables them (ai.google.dev/gemini-api/docs/image-generation
#: "aspect ratios and image size"; the same for 3 Pro Image and 3.1 Flash Image).
IMAGE_SIZE_TABLES: dict[str, dict[str, tuple[int, int]]] = {
    "1K": {
        "1:1": (1024, 1024),
        "2:3": (848, 1264),
        "3:2": (1264, 848),
        "3:4": (896, 1200),
        "4:3": (1200, 896),
        "4:5": (928, 1152),
        "5:4": (1152, 928),
        "9:16": (768, 1376),
        "16:9": (1376, 768),
        "21:9": (1584, 672),
    },
    "2K": {
        "1:1": (2048, 2048),
        "2:3": (1696, 2528),
        "3:2": (2528, 1696),
        "3:4": (1792, 2400),
        "4:3": (2400, 1792),
        "4:5": (1856, 2304),
        "5:4": (2304, 1856),
        "9:16": (1536, 2752),
        "16:9": (2752, 1536),
        "21:9": (3168, 1344),
    },
    "4K": {
        "1:1": (4096, 4096),
        "2:3": (3392, 5056),
        "3:2": (5056, 3392),
        "3:4": (3584, 4800),
        "4:3": (4800, 3584),
        "4:5": (3712, 4608),
        "5:4": (4608, 3712),
        "9:16": (3072, 5504),
        "16:9": (5504, 3072),
        "21:9": (6336, 2688),
    },
}
#: The default size (imageSize absent) is 1K.
ASPECT_SIZES: dict[str, tuple[int, int]] = IMAGE_SIZE_TABLES["1K"]
#: Output tokens of one image, by imageSize (Google's table: 1120 up to 2K, 2000 at 4K).
IMAGE_SIZE_TOKENS = {"1K": 1120, "2K": 1120, "4K": 2000}
INPUT_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"})
MAX_REQUEST_BYTES = 20 * 1024 * 1024
IMAGE_OUTPUT_TOKENS = IMAGE_SIZE_TOKENS["1K"]
IMAGE_INPUT_TOKENS = 258
_TYPE = "type.googleapis.com/google.rpc."
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class GeminiFaults:
    latency: float = 0.0  # seconds per request
    auth_fail: bool = False  # every key is refused (400 API_KEY_INVALID)
    rate_limit: int = 0  # answer the next N requests with 429 RESOURCE_EXHAUSTED
    retry_delay: str = "36s"  # RetryInfo.retryDelay of those 429s
    unavailable: int = 0  # answer the next N requests with 503 UNAVAILABLE
    internal: int = 0  # answer the next N requests with 500 INTERNAL
    text_only: int = 0  # answer the next N image requests with text only
    finish_reason: str = "NO_IMAGE"  # finishReason of those text-only answers
    error_rate: float = 0.0  # share of requests answered 503

    def update(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if key not in self.__dataclass_fields__:
                raise ValueError(f"unknown fault {key!r}")
            kind = type(getattr(self, key))
            setattr(self, key, kind(value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GeminiStats:
    requests: Counter = field(default_factory=Counter)  # by model
    statuses: Counter = field(default_factory=Counter)  # by HTTP status
    images_out: int = 0
    last_request: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "requests_total": sum(self.requests.values()),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "images_out": self.images_out,
            "last_request": self.last_request,
        }


class GeminiError(Exception):
    def __init__(self, code: int, message: str, details: list[dict] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or []

    def response(self) -> web.Response:
        body = {
            "error": {
                "code": self.code,
                "message": self.message,
                "status": _STATUS_NAMES.get(self.code, "UNKNOWN"),
                "details": self.details,
            }
        }
        return web.json_response(body, status=self.code)


def _pick(obj: dict, camel: str, snake: str, default: Any = None) -> Any:
    """A field under its camelCase or snake_case name (the REST API accepts both)."""
    if camel in obj:
        return obj[camel]
    return obj.get(snake, default)


class GeminiCore(ControlEndpoints):
    def __init__(
        self,
        api_key: str | None = None,
        faults: GeminiFaults | None = None,
        seed: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.initial_faults = faults or GeminiFaults()
        self.faults = GeminiFaults(**self.initial_faults.as_dict())
        self.rng = random.Random(seed)  # noqa: S311 - fault injection, not cryptography
        self.stats = GeminiStats()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES + 1024 * 1024)
        app.router.add_post("/{version:v1beta|v1}/models/{target}", self.model_handler)
        app.router.add_get("/_sim/state", self.state_handler)
        app.router.add_post("/_sim/faults", self.faults_handler)
        app.router.add_post("/_sim/reset", self.reset_handler)
        return app

    # ---- control -------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {**self.stats.as_dict(), "faults": self.faults.as_dict()}

    async def reset_handler(self, request: web.Request) -> web.Response:
        self.faults = GeminiFaults(**self.initial_faults.as_dict())
        self.stats = GeminiStats()
        return web.json_response(self.state())

    # ---- API -----------------------------------------------------------------------------

    async def model_handler(self, request: web.Request) -> web.Response:
        version = request.match_info["version"]
        model, _, method = request.match_info["target"].partition(":")
        self.stats.requests[model] += 1
        try:
            if method != "generateContent":
                raise GeminiError(404, f"Method {method or '(none)'} is not simulated.")
            self._authenticate(request)
            if model not in IMAGE_MODELS | TEXT_MODELS:
                raise GeminiError(
                    404,
                    f"models/{model} is not found for API version {version}, or is not "
                    "supported for generateContent. Call ListModels to see the list of "
                    "available models and their supported methods.",
                )
            raw = await request.read()
            if len(raw) > MAX_REQUEST_BYTES:
                raise GeminiError(
                    400, f"Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes."
                )
            try:
                body = json.loads(raw or b"{}")
            except ValueError as exc:
                raise GeminiError(400, f"Invalid JSON payload received. {exc}") from exc
            if not isinstance(body, dict):
                raise GeminiError(400, "Invalid JSON payload received. Expected an object.")
            self.stats.last_request = {"model": model, "version": version, "keys": sorted(body)}
            if self.faults.latency:
                await asyncio.sleep(self.faults.latency)
            self._injected_faults()
            answer = await asyncio.to_thread(self._generate, model, body)
        except GeminiError as exc:
            self.stats.statuses[exc.code] += 1
            return exc.response()
        self.stats.statuses[200] += 1
        return web.json_response(answer)

    def _authenticate(self, request: web.Request) -> None:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not key:
            raise GeminiError(
                403,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if self.faults.auth_fail or (self.api_key is not None and key != self.api_key):
            message = "API key not valid. Please pass a valid API key."
            raise GeminiError(
                400,
                message,
                [
                    {
                        "@type": _TYPE + "ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    },
                    {"@type": _TYPE + "LocalizedMessage", "locale": "en-US", "message": message},
                ],
            )

    def _injected_faults(self) -> None:
        faults = self.faults
        if faults.rate_limit > 0:
            faults.rate_limit -= 1
            raise GeminiError(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                [
                    {
                        "@type": _TYPE + "QuotaFailure",
                        "violations": [
                            {
                                "quotaMetric": "generativelanguage.googleapis.com/"
                                "generate_content_requests",
                                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
                            }
                        ],
                    },
                    {"@type": _TYPE + "RetryInfo", "retryDelay": faults.retry_delay},
                ],
            )
        if faults.unavailable > 0 or (faults.error_rate and self.rng.random() < faults.error_rate):
            faults.unavailable = max(0, faults.unavailable - 1)
            raise GeminiError(503, "The model is overloaded. Please try again later.")
        if faults.internal > 0:
            faults.internal -= 1
            raise GeminiError(500, "An internal error has occurred. Please retry.")

    # ---- generation ----------------------------------------------------------------------

    def _generate(self, model: str, body: dict) -> dict[str, Any]:
        contents = body.get("contents")
        if isinstance(contents, dict):
            contents = [contents]
        if not isinstance(contents, list) or not contents:
            raise GeminiError(400, "* GenerateContentRequest.contents: contents is not specified")
        texts: list[str] = []
        images: list[bytes] = []
        for content in contents:
            parts = content.get("parts") if isinstance(content, dict) else None
            if not isinstance(parts, list) or not parts:
                raise GeminiError(
                    400,
                    "* GenerateContentRequest.contents[].parts: contents.parts must not be empty.",
                )
            for part in parts:
                if not isinstance(part, dict):
                    raise GeminiError(400, "Invalid JSON payload received. Part is not an object.")
                if "text" in part:
                    texts.append(str(part["text"]))
                    continue
                inline = _pick(part, "inlineData", "inline_data")
                if inline is None:
                    raise GeminiError(400, "Only text and inline image parts are simulated.")
                images.append(_decode_inline(inline))
        config = _pick(body, "generationConfig", "generation_config", {}) or {}
        modalities = [
            str(m).upper()
            for m in _pick(config, "responseModalities", "response_modalities", []) or []
        ]
        for modality in modalities:
            if modality not in ("TEXT", "IMAGE", "AUDIO"):
                raise GeminiError(
                    400,
                    f"Invalid value at 'generation_config.response_modalities' ({modality})",
                )
        image_model = model in IMAGE_MODELS
        if not modalities:
            modalities = ["TEXT", "IMAGE"] if image_model else ["TEXT"]
        if "IMAGE" in modalities and not image_model:
            raise GeminiError(
                400, f"Model {model} does not support the requested response modalities: image"
            )
        image_config = _pick(config, "imageConfig", "image_config", {}) or {}
        aspect = _pick(image_config, "aspectRatio", "aspect_ratio")
        if aspect is not None and aspect not in ASPECT_SIZES:
            allowed = ", ".join(ASPECT_SIZES)
            raise GeminiError(
                400,
                f"Invalid value at 'generation_config.image_config.aspect_ratio' ({aspect}): "
                f"must be one of {allowed}.",
            )
        image_size = _pick(image_config, "imageSize", "image_size")
        if image_size is not None and image_size not in IMAGE_SIZE_TABLES:
            raise GeminiError(
                400,
                f"Invalid value at 'generation_config.image_config.image_size' ({image_size}): "
                f"must be one of {', '.join(IMAGE_SIZE_TABLES)}.",
            )
        sizes = IMAGE_SIZE_TABLES[image_size or "1K"]
        prompt = "\n".join(texts).strip()
        response_mime = _pick(config, "responseMimeType", "response_mime_type")
        prompt_tokens = sum(max(1, len(t) // 4) for t in texts) + IMAGE_INPUT_TOKENS * len(images)
        parts_out: list[dict[str, Any]] = []
        finish = "STOP"
        image_tokens = 0
        if "IMAGE" in modalities and self.faults.text_only > 0:
            self.faults.text_only -= 1
            finish = self.faults.finish_reason
            parts_out.append({"text": "I can't produce an image for this request."})
        elif "IMAGE" in modalities:
            if images:
                source = images[0]
                if aspect is None:
                    w, h = imaging.open_image(source).size
                    aspect = min(sizes, key=lambda a: abs(_ratio(a) - w / h))
                img = imaging.edit(source, prompt, sizes[aspect])
            else:
                img = imaging.generate(prompt, sizes[aspect or "1:1"])
            # The simulator answers 2K/4K as JPEG (a 4K PNG runs to tens of MB). Which type
            # Google returns at 2K/4K is [UNCONFIRMED]; it cannot be set on the Gemini API,
            # so clients must read inlineData.mimeType (ours sniffs the bytes).
            small = image_size in (None, "1K")
            mime, fmt = ("image/png", "PNG") if small else ("image/jpeg", "JPG")
            data = imaging.encode(img, fmt)
            parts_out.append({"text": f"Here is the image ({aspect or '1:1'})."})
            parts_out.append(
                {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}
            )
            image_tokens = IMAGE_SIZE_TOKENS[image_size or "1K"]
            self.stats.images_out += 1
        else:
            parts_out.append({"text": self._describe(images, prompt, response_mime)})
        text_tokens = sum(max(1, len(p.get("text", "")) // 4) for p in parts_out if "text" in p)
        usage: dict[str, Any] = {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": text_tokens + image_tokens,
            "totalTokenCount": prompt_tokens + text_tokens + image_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
        }
        if image_tokens:
            usage["candidatesTokensDetails"] = [
                {"modality": "IMAGE", "tokenCount": image_tokens},
                {"modality": "TEXT", "tokenCount": text_tokens},
            ]
        return {
            "candidates": [
                {
                    "content": {"role": "model", "parts": parts_out},
                    "finishReason": finish,
                    "index": 0,
                }
            ],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": uuid.uuid4().hex[:22],
        }

    def _describe(self, images: list[bytes], prompt: str, response_mime: str | None) -> str:
        """Text answer: a deterministic caption of the first image (JSON when asked for)."""
        if not images:
            return f"(simulated answer to: {prompt[:80]})"
        text = imaging.caption(images[0])
        words = [w.strip(".,()").lower() for w in text.split()]
        stop = {"a", "photo", "with", "mostly", "and", "tones", "pixels"}
        keywords = [w for w in words if w.isalpha() and w not in stop]
        if response_mime == "application/json" or "json" in prompt.lower():
            caption = text.split(" (", 1)[0] + "."
            alt = text.split(" (", 1)[0] + " " + text.split(") ", 1)[-1]
            return json.dumps({"caption": caption, "alt_text": alt, "keywords": keywords})
        return text


def _ratio(aspect: str) -> float:
    w, h = aspect.split(":")
    return int(w) / int(h)


def _decode_inline(inline: Any) -> bytes:
    if not isinstance(inline, dict):
        raise GeminiError(400, "Invalid JSON payload received. inline_data is not an object.")
    mime = _pick(inline, "mimeType", "mime_type")
    data = inline.get("data")
    if not mime or not data:
        raise GeminiError(
            400,
            "* GenerateContentRequest.contents[].parts[].inline_data: "
            "mime_type and data are required",
        )
    if mime not in INPUT_MIME_TYPES:
        raise GeminiError(400, f"Unsupported MIME type: {mime}")
    try:
        # proto3 JSON bytes: standard or URL-safe base64, padding optional (the SDK sends
        # URL-safe).
        text = str(data).strip().replace("-", "+").replace("_", "/")
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        imaging.open_image(raw)
    except (binascii.Error, ValueError) as exc:
        raise GeminiError(
            400,
            "Unable to process input image. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
        ) from exc
    return raw


class GeminiSimulator(BackgroundServer):
    """Runs the simulator on a background thread with its own loop (tests, tools)."""

    thread_name = "gemini-simulator"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        seed: int | None = None,
        **faults: Any,
    ) -> None:
        super().__init__(host, port)
        self.core = GeminiCore(api_key=api_key, faults=GeminiFaults(**faults), seed=seed)

    @property
    def url(self) -> str:
        """The base URL to give the SDK: ``HttpOptions(base_url=sim.url)``."""
        return f"http://{self.host}:{self.port}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Gemini API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=56792)
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share answered 503")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sim = GeminiSimulator(
        args.host,
        args.port,
        api_key=args.api_key,
        seed=args.seed,
        latency=args.latency,
        error_rate=args.error_rate,
    )

    sim.serve_forever("Gemini simulator on http://%s:%s/v1beta/models/{model}:generateContent")


if __name__ == "__main__":
    main()
