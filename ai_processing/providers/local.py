"""The local provider: real measurements and a conservative auto-enhance, offline.

Always available (no network, no key), so it is the last provider in the chain
before manual review. It measures rather than guesses:

- sharpness: variance of the Laplacian of the greyscale image, taken at a fixed
  analysis size (long side ``ANALYSIS_SIZE``) so scores compare across files;
- exposure: mean luminance and the share of clipped shadows and highlights;
- noise: a robust sigma (MAD) of a high-pass residual in the flat half of the
  image, at native resolution (downscaling would average the noise away);
- resolution: the fill dpi for common print sizes;
- faces and eyes: OpenCV's bundled Haar cascades, when OpenCV is installed.

Its edit is an auto-enhance that never changes geometry: per-channel levels
from clipped percentiles, then a grey-world white balance of limited strength,
applied as one lookup table per channel. Its upscale is a plain libvips Lanczos-3
resize (no AI: no detail is invented), labelled as such in its details. It writes
no captions, and says so. No Django here.
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pyvips

from orders.imaging.colour import to_srgb_8bit
from orders.imaging.vips import configure as configure_vips

from .base import (
    AnalyzeResult,
    CaptionResult,
    EditResult,
    ImageInput,
    OperationNotSupported,
    Provider,
    ProviderRejected,
)

log = logging.getLogger(__name__)

#: Long side, in pixels, at which sharpness, exposure and faces are measured.
ANALYSIS_SIZE = 1024
#: Largest native-resolution square over which noise is measured.
NOISE_CROP = 1024
#: Variance of the Laplacian (0-255 grey, at the analysis size) under which an image is blurred.
BLUR_THRESHOLD = 100.0
SOFT_THRESHOLD = 250.0
#: Luminance (0-255) at or under which a pixel counts as clipped shadow, at or over as highlight.
SHADOW_CLIP = 5
HIGHLIGHT_CLIP = 250
#: Noise sigma (0-255 units) over which an image is "noisy", and "some".
NOISY_SIGMA = 6.0
SOME_NOISE_SIGMA = 3.0
#: Print sizes in inches (short, long side).
PRINT_SIZES: tuple[tuple[str, float, float], ...] = (
    ("4x6", 4, 6),
    ("5x7", 5, 7),
    ("8x10", 8, 10),
    ("11x14", 11, 14),
    ("16x20", 16, 20),
)
#: Auto-enhance: levels percentiles, and the white balance's strength and gain limits.
LEVELS_LOW_PERCENTILE = 0.5
LEVELS_HIGH_PERCENTILE = 99.5
LEVELS_MAX_GAIN = 1.6
#: Black/white points within this many levels of 0/255 count as already spanning the range.
LEVELS_SPAN_SLACK = 12
WB_STRENGTH = 0.5
WB_MIN_GAIN, WB_MAX_GAIN = 0.85, 1.18
#: A cast smaller than this (relative spread of the channel means) is left alone.
WB_DEAD_ZONE = 0.05
EDIT_QUALITY = 92

_LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)
# Immerkaer's noise kernel: the difference of two Laplacians, blind to planes and
# ramps; for white noise of sigma s its response has a standard deviation of 6 s.
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)


class LocalProvider(Provider):
    name: ClassVar[str] = "local"
    operations: ClassVar[frozenset[str]] = frozenset({"analyze", "edit", "upscale"})
    model = "local-metrics-1"
    #: What its upscale is, for the trail and the image's metadata (never mistaken for AI).
    UPSCALE_METHOD = "local Lanczos-3 resize (libvips), not AI"

    def __init__(self, *, detect_faces: bool = True) -> None:
        configure_vips()
        self.detect_faces = detect_faces

    # --- analyze ---------------------------------------------------------------

    def analyze(self, image: ImageInput) -> AnalyzeResult:
        full = _load(image)
        small = _downscale(full, ANALYSIS_SIZE)
        rgb = _array(small)
        grey = _luminance(rgb)
        facts: dict[str, Any] = {
            "width": full.width,
            "height": full.height,
            "analysis_size": [small.width, small.height],
            "sharpness": sharpness(grey),
            "exposure": exposure(grey),
            "noise": noise(_luminance(_array(_centre_crop(full, NOISE_CROP)))),
            "resolution": print_sizes(full.width, full.height),
            "faces": (
                faces(grey, scale=full.width / small.width)
                if self.detect_faces
                else {"available": False, "reason": "face detection is turned off"}
            ),
        }
        return AnalyzeResult(facts=facts, model=self.model, cost=0.0)

    # --- edit ------------------------------------------------------------------

    def edit(self, image: ImageInput, prompt: str, *, aspect: str | None = None) -> EditResult:
        full = _load(image)
        sample = _array(_downscale(full, ANALYSIS_SIZE))
        luts, details = enhancement_luts(sample)
        table = np.ascontiguousarray(luts.T)  # 256 x 3: one pixel per input value
        lut = pyvips.Image.new_from_memory(table.tobytes(), 256, 1, 3, "uchar")
        out = full.maplut(lut)
        data = out.jpegsave_buffer(Q=EDIT_QUALITY, keep="none", optimize_coding=True)
        details |= {
            "operation": "auto-enhance (levels, white balance)",
            "prompt_ignored": bool(prompt),
            "note": "the local provider does not follow prompts; it applied its fixed auto-enhance",
            "aspect_ignored": aspect,
            "width": out.width,
            "height": out.height,
        }
        return EditResult(
            image_bytes=data, mime_type="image/jpeg", model=self.model, cost=0.0, details=details
        )

    # --- upscale ---------------------------------------------------------------

    def upscale(self, image: ImageInput, factor: int) -> EditResult:
        if factor < 1:
            raise ProviderRejected(f"An upscale factor must be at least 1, not {factor!r}")
        full = _load(image)
        out = full.resize(float(factor), kernel="lanczos3")
        data = out.jpegsave_buffer(Q=95, keep="none", optimize_coding=True)
        return EditResult(
            image_bytes=data,
            mime_type="image/jpeg",
            model="local-lanczos3",
            cost=0.0,
            details={
                "operation": "upscale",
                "method": self.UPSCALE_METHOD,
                "factor": factor,
                "width": out.width,
                "height": out.height,
            },
        )

    def model_for(self, operation: str) -> str:
        return "local-lanczos3" if operation == "upscale" else self.model

    # --- caption ---------------------------------------------------------------

    def caption(self, image: ImageInput, prompt: str) -> CaptionResult:
        raise OperationNotSupported("The local provider writes no captions")


# --- loading ----------------------------------------------------------------------


def _load(image: ImageInput) -> pyvips.Image:
    """The upright, 8-bit sRGB pixels of ``image`` (ICC-transformed when it needs it)."""
    try:
        if image.data is not None:
            vips = pyvips.Image.new_from_buffer(image.data, "", access="sequential")
        else:
            vips = pyvips.Image.new_from_file(str(image.path), access="sequential")
    except pyvips.Error:
        vips = _load_with_pillow(image)
    try:
        vips = vips.autorot()
        if vips.get_typeof("icc-profile-data") or vips.interpretation == "cmyk":
            try:
                vips = vips.icc_transform("srgb", intent="perceptual")
            except pyvips.Error:
                log.info("ICC transform failed for %s; using the pixels as they are", image.sha256)
        return to_srgb_8bit(vips).copy_memory()
    except pyvips.Error as exc:
        raise ProviderRejected(f"The image could not be decoded: {exc.message}") from exc


def _load_with_pillow(image: ImageInput) -> pyvips.Image:
    """HEIC and anything the bundled libvips cannot read, through Pillow (pillow-heif)."""
    import io

    from PIL import Image as PILImage
    from PIL import ImageOps

    try:
        source = io.BytesIO(image.data) if image.data is not None else image.path
        with PILImage.open(source) as pil:
            pil = ImageOps.exif_transpose(pil).convert("RGB")
            array = np.asarray(pil)
    except Exception as exc:
        raise ProviderRejected(f"The image could not be decoded: {exc}") from exc
    height, width, bands = array.shape
    return pyvips.Image.new_from_memory(array.tobytes(), width, height, bands, "uchar").copy(
        interpretation="srgb"
    )


def _downscale(image: pyvips.Image, long_side: int) -> pyvips.Image:
    scale = long_side / max(image.width, image.height)
    return image.resize(scale, kernel="lanczos3") if scale < 1 else image


def _centre_crop(image: pyvips.Image, size: int) -> pyvips.Image:
    width, height = min(size, image.width), min(size, image.height)
    return image.crop((image.width - width) // 2, (image.height - height) // 2, width, height)


def _array(image: pyvips.Image) -> np.ndarray:
    return np.ndarray(
        buffer=image.write_to_memory(),
        dtype=np.uint8,
        shape=(image.height, image.width, image.bands),
    )


def _luminance(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return 0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]


def _convolve3(grey: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``grey`` filtered with a 3x3 kernel, valid region only (no border effects)."""
    h, w = grey.shape
    out = np.zeros((h - 2, w - 2), dtype=np.float64)
    for dy in range(3):
        for dx in range(3):
            if kernel[dy, dx]:
                out += kernel[dy, dx] * grey[dy : dy + h - 2, dx : dx + w - 2]
    return out


# --- measurements (pure numpy, public for the tests and benchmarks) ---------------


def sharpness(grey: np.ndarray) -> dict[str, Any]:
    """Variance of the Laplacian of ``grey`` (0-255), with a blur verdict."""
    if min(grey.shape) < 3:
        return {"laplacian_variance": 0.0, "verdict": "unknown"}
    variance = float(_convolve3(grey, _LAPLACIAN).var())
    if variance < BLUR_THRESHOLD:
        verdict = "blurred"
    elif variance < SOFT_THRESHOLD:
        verdict = "soft"
    else:
        verdict = "sharp"
    return {
        "laplacian_variance": round(variance, 1),
        "blur_threshold": BLUR_THRESHOLD,
        "verdict": verdict,
        "blurred": verdict == "blurred",
    }


def exposure(grey: np.ndarray) -> dict[str, Any]:
    """Mean luminance (0-1), clipped shares, and a verdict: under, over or ok."""
    mean = float(grey.mean()) / 255
    shadows = float((grey <= SHADOW_CLIP).mean())
    highlights = float((grey >= HIGHLIGHT_CLIP).mean())
    if mean < 0.25 or (shadows > 0.25 and mean < 0.4):
        verdict = "under"
    elif mean > 0.75 or (highlights > 0.15 and mean > 0.6):
        verdict = "over"
    else:
        verdict = "ok"
    return {
        "mean_luminance": round(mean, 3),
        "clipped_shadows": round(shadows, 4),
        "clipped_highlights": round(highlights, 4),
        "verdict": verdict,
    }


def noise(grey: np.ndarray) -> dict[str, Any]:
    """Robust noise sigma (0-255 units) of the flattest half of ``grey``."""
    if min(grey.shape) < 5:
        return {"sigma": 0.0, "verdict": "unknown"}
    residual = _convolve3(grey, _NOISE_KERNEL)
    gx = _convolve3(grey, np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64))
    gy = _convolve3(grey, np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64))
    gradient = np.hypot(gx, gy)
    flat = residual[gradient <= np.percentile(gradient, 50)]
    mad = float(np.median(np.abs(flat - np.median(flat))))
    sigma = 1.4826 * mad / 6
    if sigma > NOISY_SIGMA:
        verdict = "noisy"
    elif sigma > SOME_NOISE_SIGMA:
        verdict = "some"
    else:
        verdict = "clean"
    return {"sigma": round(sigma, 2), "verdict": verdict}


def print_sizes(width: int, height: int) -> dict[str, Any]:
    """Fill dpi for each print size (cropped to fill the paper), and which reach 300/200 dpi."""
    short_px, long_px = sorted((width, height))
    sizes: dict[str, int] = {}
    for label, short_in, long_in in PRINT_SIZES:
        sizes[label] = math.floor(min(short_px / short_in, long_px / long_in))
    return {
        "megapixels": round(width * height / 1e6, 2),
        "dpi": sizes,
        "at_300_dpi": [label for label, dpi in sizes.items() if dpi >= 300],
        "at_200_dpi": [label for label, dpi in sizes.items() if dpi >= 200],
    }


@lru_cache(maxsize=1)
def _cascades() -> tuple[Any, Any, Any] | str:
    """(cv2, face cascade, eye cascade), or the reason there is no detector."""
    try:
        import cv2
    except ImportError:
        return "OpenCV (opencv-python-headless) is not installed"
    base = getattr(getattr(cv2, "data", None), "haarcascades", "")
    face = cv2.CascadeClassifier(base + "haarcascade_frontalface_default.xml")
    eye = cv2.CascadeClassifier(base + "haarcascade_eye.xml")
    if face.empty() or eye.empty():
        return "OpenCV's Haar cascade files are missing from this installation"
    return cv2, face, eye


def faces(grey: np.ndarray, *, scale: float = 1.0) -> dict[str, Any]:
    """Frontal faces (boxes in original pixels) and the eyes found in each."""
    loaded = _cascades()
    if isinstance(loaded, str):
        return {"available": False, "reason": loaded}
    cv2, face_cascade, eye_cascade = loaded
    image = cv2.equalizeHist(np.clip(grey, 0, 255).astype(np.uint8))
    min_side = max(24, int(min(image.shape) * 0.06))
    found = face_cascade.detectMultiScale(
        image, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
    )
    boxes = []
    for x, y, w, h in found:
        upper = image[y : y + h // 2 + h // 8, x : x + w]
        eyes = eye_cascade.detectMultiScale(
            upper, scaleFactor=1.1, minNeighbors=5, minSize=(max(8, w // 8), max(8, w // 8))
        )
        boxes.append(
            {
                "box": [round(float(v) * scale) for v in (x, y, w, h)],
                "eyes_found": min(len(eyes), 2),
            }
        )
    return {
        "available": True,
        "detector": "opencv haar frontalface_default + eye",
        "count": len(boxes),
        "faces": boxes,
    }


# --- auto-enhance -------------------------------------------------------------------


def enhancement_luts(rgb: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Three 256-entry lookup tables (levels, then white balance) measured on ``rgb``.

    Levels use one black and one white point for all channels (from clipped
    percentiles), so they stretch contrast without shifting hue, and only when
    the image does not already span the range. The white balance is grey-world,
    at ``WB_STRENGTH`` and with gains clamped, and skipped under ``WB_DEAD_ZONE``.
    """
    values = np.arange(256, dtype=np.float64)
    flat = rgb.reshape(-1, 3).astype(np.float64)
    lows, highs = np.percentile(flat, [LEVELS_LOW_PERCENTILE, LEVELS_HIGH_PERCENTILE], axis=0)
    low, high = float(lows.min()), float(highs.max())
    if low <= LEVELS_SPAN_SLACK and high >= 255 - LEVELS_SPAN_SLACK:
        low, high = 0.0, 255.0  # already spans the range: no stretch
    elif high - low < 255 / LEVELS_MAX_GAIN:
        centre = (low + high) / 2
        low = max(0.0, centre - 255 / LEVELS_MAX_GAIN / 2)
        high = min(255.0, low + 255 / LEVELS_MAX_GAIN)
    level = np.clip((values - low) * 255 / max(high - low, 1.0), 0, 255)
    means = level[rgb.reshape(-1, 3)].mean(axis=0)
    grey = float(means.mean())
    spread = float((means.max() - means.min()) / max(grey, 1.0))
    gains = np.ones(3)
    if spread > WB_DEAD_ZONE and grey > 1:
        gains = 1 + WB_STRENGTH * (grey / np.maximum(means, 1.0) - 1)
        gains = np.clip(gains, WB_MIN_GAIN, WB_MAX_GAIN)
    luts = np.clip(np.rint(level[None, :] * gains[:, None]), 0, 255)
    details = {
        "levels": [round(low, 1), round(high, 1)],
        "channel_means_before_wb": [round(float(m), 1) for m in means],
        "white_balance_gains": [round(float(g), 3) for g in gains],
        "cast_spread": round(spread, 3),
    }
    return luts.astype(np.uint8), details
