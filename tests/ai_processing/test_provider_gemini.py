"""GeminiProvider against the Gemini simulator, through Google's real ``google-genai`` SDK.

The SDK is only given ``HttpOptions(base_url=...)``; everything else (paths, headers,
body, error parsing) is the SDK's own. No database and no Redis.
"""

from __future__ import annotations

import io
import socket
from pathlib import Path

import httpx
import pytest
from google.genai import errors
from PIL import Image

from ai_processing.providers.base import (
    ImageInput,
    OperationNotSupported,
    ProviderRejected,
    ProviderUnavailable,
)
from ai_processing.providers.gemini import GeminiProvider, nearest_aspect_ratio, provider_error
from ai_processing.providers.registry import gemini_from_settings
from ai_processing.simulator.gemini import GeminiSimulator

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"
CHELSEA = (PHOTOS / "chelsea.png").read_bytes()  # 451x300 (nearest ratio: 3:2)
KEY = "test-gemini-key"


@pytest.fixture(scope="module")
def sim():
    with GeminiSimulator(api_key=KEY) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def reset(sim):
    httpx.post(f"{sim.url}/_sim/reset")
    yield
    httpx.post(f"{sim.url}/_sim/reset")


def faults(sim, **values) -> None:
    httpx.post(f"{sim.url}/_sim/faults", json=values).raise_for_status()


def state(sim) -> dict:
    return httpx.get(f"{sim.url}/_sim/state").json()


def provider(sim, key: str = KEY, **options) -> GeminiProvider:
    return GeminiProvider(api_key=key, base_url=sim.url, timeout=20, **options)


def test_edit_returns_the_inline_image(sim):
    result = provider(sim).edit(ImageInput.from_bytes(CHELSEA), "Warm up the colours")
    assert result.mime_type == "image/png"
    assert result.image_bytes != CHELSEA
    assert Image.open(io.BytesIO(result.image_bytes)).size == (1264, 848)
    assert result.model == "gemini-3.1-flash-image"
    assert result.details["aspect_ratio"] == "3:2"
    assert result.details["model_text"]
    # 1120 image tokens at $60 per million (3.1 Flash Image), plus a little text and input.
    assert 0.0672 <= result.cost < 0.069
    seen = state(sim)
    assert seen["requests"] == {"gemini-3.1-flash-image": 1}
    assert seen["last_request"]["version"] == "v1beta"
    assert seen["last_request"]["keys"] == ["contents", "generationConfig"]


def test_edit_uses_the_print_aspect(sim):
    result = provider(sim).edit(ImageInput.from_bytes(CHELSEA), "Brighten", aspect="4:5")
    assert Image.open(io.BytesIO(result.image_bytes)).size == (928, 1152)
    assert result.details["aspect_ratio"] == "4:5"


def test_caption_is_parsed_from_json(sim):
    result = provider(sim).caption(ImageInput.from_bytes(CHELSEA), "Describe the photo")
    assert result.caption == "A evenly lit landscape photo."
    assert result.alt_text == "A evenly lit landscape photo with mostly brown and grey tones."
    assert result.keywords == ["evenly", "lit", "landscape", "brown", "grey"]
    assert 0 < result.cost < 0.01


def test_analyze_is_not_supported(sim):
    with pytest.raises(OperationNotSupported):
        provider(sim).analyze(ImageInput.from_bytes(CHELSEA))


def test_bad_key_is_unavailable(sim):
    with pytest.raises(ProviderUnavailable, match="refused the API key") as excinfo:
        provider(sim, key="wrong-key").edit(ImageInput.from_bytes(CHELSEA), "Edit")
    assert "400 INVALID_ARGUMENT" in excinfo.value.reason


def test_rate_limit_is_unavailable_with_the_retry_delay(sim):
    faults(sim, rate_limit=1, retry_delay="17s")
    with pytest.raises(ProviderUnavailable, match="retry after 17s"):
        provider(sim).edit(ImageInput.from_bytes(CHELSEA), "Edit")
    assert state(sim)["statuses"] == {"429": 1}, "the SDK does not retry by default"


def test_overloaded_model_is_unavailable(sim):
    faults(sim, unavailable=1)
    with pytest.raises(ProviderUnavailable, match="503 UNAVAILABLE"):
        provider(sim).edit(ImageInput.from_bytes(CHELSEA), "Edit")


def test_text_only_answer_is_rejected_with_the_finish_reason(sim):
    faults(sim, text_only=1, finish_reason="NO_IMAGE")
    with pytest.raises(ProviderRejected, match="finishReason NO_IMAGE") as excinfo:
        provider(sim).edit(ImageInput.from_bytes(CHELSEA), "Edit")
    assert "can't produce an image" in excinfo.value.reason
    faults(sim, text_only=1, finish_reason="IMAGE_SAFETY")
    with pytest.raises(ProviderRejected, match="refused an image"):
        provider(sim).edit(ImageInput.from_bytes(CHELSEA), "Edit")


def test_shut_down_model_is_unavailable(sim):
    with pytest.raises(ProviderUnavailable, match="2 Oct 2026"):
        provider(sim, model="gemini-2.5-flash-image").edit(ImageInput.from_bytes(CHELSEA), "Edit")


def test_unreachable_service_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = GeminiProvider(api_key=KEY, base_url=f"http://127.0.0.1:{port}", timeout=5)
    with pytest.raises(ProviderUnavailable, match="could not be reached"):
        p.caption(ImageInput.from_bytes(CHELSEA), "Caption")


def _api_error(code: int, status: str, details: list | None = None) -> errors.APIError:
    body = {"error": {"code": code, "message": "m", "status": status, "details": details or []}}
    return errors.APIError(code, body)


@pytest.mark.parametrize(
    ("code", "status", "details", "expected"),
    [
        (400, "INVALID_ARGUMENT", [{"reason": "API_KEY_INVALID"}], ProviderUnavailable),
        (400, "INVALID_ARGUMENT", [], ProviderRejected),
        (400, "FAILED_PRECONDITION", [], ProviderRejected),
        (403, "PERMISSION_DENIED", [], ProviderUnavailable),
        (404, "NOT_FOUND", [], ProviderUnavailable),
        (429, "RESOURCE_EXHAUSTED", [{"retryDelay": "3s"}], ProviderUnavailable),
        (500, "INTERNAL", [], ProviderUnavailable),
        (503, "UNAVAILABLE", [], ProviderUnavailable),
        (504, "DEADLINE_EXCEEDED", [], ProviderUnavailable),
    ],
)
def test_sdk_errors_map_to_provider_errors(code, status, details, expected):
    assert type(provider_error(_api_error(code, status, details))) is expected


def test_nearest_aspect_ratio():
    assert nearest_aspect_ratio(451, 300) == "3:2"
    assert nearest_aspect_ratio(4, 5) == "4:5"
    assert nearest_aspect_ratio(1000, 1000) == "1:1"
    assert nearest_aspect_ratio(3000, 1000) == "21:9"


def test_factory_uses_the_simulator_without_a_key(settings):
    settings.GEMINI_API_KEY = ""
    settings.GEMINI_BASE_URL = ""
    p = gemini_from_settings()
    assert (p.base_url, p.api_key, p.model) == (
        "http://127.0.0.1:56792",
        "simulator",
        "gemini-3.1-flash-image",
    )
    settings.GEMINI_API_KEY = "real-key"
    p = gemini_from_settings()
    assert (p.base_url, p.api_key) == (None, "real-key")


def test_image_size_is_sent_to_gemini_3_models(sim):
    pro = provider(sim, model="gemini-3-pro-image", image_size="2K")
    result = pro.edit(ImageInput.from_bytes(CHELSEA), "Replace the sky")
    assert Image.open(io.BytesIO(result.image_bytes)).size == (2528, 1696)
    assert result.details["image_size"] == "2K"
    assert result.mime_type == "image/jpeg"  # sniffed from the bytes, not assumed
    # 1120 image tokens at $120 per million (3 Pro Image).
    assert 0.1344 <= result.cost < 0.137
    assert pro.model_for("edit") == "gemini-3-pro-image@2K"


def test_image_size_is_not_sent_to_models_without_it():
    old = GeminiProvider(api_key=KEY, model="gemini-2.5-flash-image", image_size="4K")
    assert old.image_size is None
    assert old.model_for("edit") == "gemini-2.5-flash-image"
    with pytest.raises(ValueError, match="image_size must be one of 1K, 2K, 4K"):
        GeminiProvider(api_key=KEY, image_size="4k")
