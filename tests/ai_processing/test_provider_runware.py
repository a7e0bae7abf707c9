"""RunwareProvider against the Runware simulator: edit, caption, unsupported analyze, errors.

No database and no Redis: the provider talks to the simulator over a real WebSocket through
the project's Runware client.
"""

from __future__ import annotations

import io
import socket
from pathlib import Path

import httpx
import pytest
from PIL import Image

from ai_processing.clients import errors as rw
from ai_processing.providers.base import (
    ImageInput,
    OperationNotSupported,
    ProviderRejected,
    ProviderUnavailable,
)
from ai_processing.providers.registry import runware_from_settings
from ai_processing.providers.remote import parse_aspect, parse_caption_text
from ai_processing.providers.runware import RunwareProvider, provider_error
from ai_processing.simulator import RunwareSimulator

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"
CHELSEA = (PHOTOS / "chelsea.png").read_bytes()  # 451x300, landscape (nearest: 3:2)


@pytest.fixture(scope="module")
def sim():
    with RunwareSimulator(seed=7) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def reset(sim):
    httpx.post(f"{sim.http_url}/_sim/reset")
    yield
    httpx.post(f"{sim.http_url}/_sim/reset")


def faults(sim, **values) -> None:
    httpx.post(f"{sim.http_url}/_sim/faults", json=values).raise_for_status()


def provider(sim, key: str = "test-key", **options) -> RunwareProvider:
    return RunwareProvider(
        url=sim.ws_url, api_key=key, task_timeout=20, connect_attempts=1, **options
    )


def size_of(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def test_edit_returns_a_new_jpeg_at_the_nearest_allowed_size(sim):
    result = provider(sim).edit(ImageInput.from_bytes(CHELSEA), "Warm up the colours")
    assert result.mime_type == "image/jpeg"
    assert result.image_bytes[:3] == b"\xff\xd8\xff"
    assert result.image_bytes != CHELSEA
    assert size_of(result.image_bytes) == (1248, 832)  # 3:2, nearest to 451x300
    assert result.cost == pytest.approx(0.039)
    assert result.model == "google:4@1"
    assert result.details["width"] == 1248
    assert result.details["sent_size"] == [451, 300]
    state = httpx.get(f"{sim.http_url}/_sim/state").json()
    assert state["tasks"] == {"imageInference": 1}


def test_edit_follows_the_print_aspect_and_is_deterministic(sim):
    p = provider(sim)
    first = p.edit(ImageInput.from_bytes(CHELSEA), "Brighten", aspect="4:5")
    second = p.edit(ImageInput.from_bytes(CHELSEA), "Brighten", aspect="4:5")
    assert size_of(first.image_bytes) == (896, 1152)
    assert first.image_bytes == second.image_bytes


def test_large_photos_are_downscaled_before_sending(sim):
    buf = io.BytesIO()
    Image.new("RGB", (3000, 2000), (90, 120, 160)).save(buf, format="PNG")
    result = provider(sim).edit(ImageInput.from_bytes(buf.getvalue()), "Cooler")
    assert result.details["sent_size"] == [2048, 1365]
    assert size_of(result.image_bytes) == (1248, 832)


def test_caption_is_parsed_into_caption_alt_text_and_keywords(sim):
    result = provider(sim).caption(ImageInput.from_bytes(CHELSEA), "Describe the photo")
    # The simulator's text: "A evenly lit landscape photo (451x300 pixels) with mostly brown
    # and grey tones." (deterministic, from the pixels).
    assert result.caption == (
        "A evenly lit landscape photo (451x300 pixels) with mostly brown and grey tones."
    )
    assert result.alt_text == "A evenly lit landscape photo with mostly brown and grey tones."
    assert result.keywords == ["evenly", "lit", "landscape", "brown", "grey"]
    assert result.cost == pytest.approx(0.0013)
    assert result.model == "google:4@1"


def test_analyze_is_not_supported(sim):
    with pytest.raises(OperationNotSupported, match="no image-analysis task"):
        provider(sim).analyze(ImageInput.from_bytes(CHELSEA))


def test_refused_key_is_unavailable(sim):
    faults(sim, auth_fail=True)
    with pytest.raises(ProviderUnavailable, match="refused the API key"):
        provider(sim, key="refused-key").edit(ImageInput.from_bytes(CHELSEA), "Edit")


def test_capacity_error_is_unavailable(sim):
    faults(sim, capacity_errors=1)
    with pytest.raises(ProviderUnavailable, match="over capacity"):
        provider(sim).edit(ImageInput.from_bytes(CHELSEA), "Edit")


def test_bad_request_is_rejected(sim):
    with pytest.raises(ProviderRejected, match="parameter model"):
        provider(sim, model="").edit(ImageInput.from_bytes(CHELSEA), "Edit")


def test_unreachable_service_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = RunwareProvider(
        url=f"ws://127.0.0.1:{port}/v1", api_key="k", connect_attempts=1, connect_timeout=2
    )
    with pytest.raises(ProviderUnavailable, match="could not be reached"):
        p.caption(ImageInput.from_bytes(CHELSEA), "Caption")


def test_undecodable_image_is_rejected_before_sending(sim):
    with pytest.raises(ProviderRejected, match="could not be decoded"):
        provider(sim).edit(ImageInput.from_bytes(b"not an image"), "Edit")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (rw.RunwareAuthError("bad", code="invalidApiKey"), ProviderUnavailable),
        (rw.RunwareCapacityError("full", code="timeoutProvider"), ProviderUnavailable),
        (rw.RunwareTimeout("slow"), ProviderUnavailable),
        (rw.RunwareConnectionError("down"), ProviderUnavailable),
        (rw.RunwareServerError("500", code="providerError"), ProviderUnavailable),
        (rw.RunwareBadRequest("no", code="invalidDimensions"), ProviderRejected),
        (rw.RunwareError("odd"), ProviderUnavailable),
    ],
)
def test_client_errors_map_to_provider_errors(error, expected):
    assert type(provider_error(error)) is expected


@pytest.mark.parametrize(
    ("text", "caption", "alt", "keywords"),
    [
        (
            '```json\n{"caption": "A dog.", "alt_text": "A brown dog on grass", '
            '"keywords": ["dog", "Grass"]}\n```',
            "A dog.",
            "A brown dog on grass",
            ["dog", "grass"],
        ),
        (
            "Caption: Two kids on a beach.\nAlt text: Two children building a sandcastle\n"
            "Keywords: beach, children, sandcastle",
            "Two kids on a beach.",
            "Two children building a sandcastle",
            ["beach", "children", "sandcastle"],
        ),
        (
            "A red car at night. Street lights glow.",
            "A red car at night.",
            "A red car at night. Street lights glow.",
            ["red", "car", "night", "street", "lights", "glow"],
        ),
        ("", "", "", []),
    ],
)
def test_caption_text_parsing(text, caption, alt, keywords):
    assert parse_caption_text(text) == (caption, alt, keywords)


def test_parse_aspect():
    assert parse_aspect("4:5") == (4, 5)
    assert parse_aspect("2x3") == (2, 3)
    assert parse_aspect("") is None
    assert parse_aspect("wide") is None
    assert parse_aspect("0:3") is None


def test_factory_uses_the_simulator_without_a_key(settings):
    settings.RUNWARE_API_KEY = ""
    settings.RUNWARE_URL = "wss://ws-api.runware.ai/v1"
    p = runware_from_settings()
    assert (p.url, p.api_key, p.model) == ("ws://127.0.0.1:56791/v1", "simulator", "google:4@1")
    settings.RUNWARE_API_KEY = "real-key"
    p = runware_from_settings()
    assert (p.url, p.api_key) == ("wss://ws-api.runware.ai/v1", "real-key")
