"""Runware task handlers of the simulator: plain dicts in, plain dicts out (no Django)."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlparse

from ai_processing.clients.sizes import (
    ALLOWED_SIZES,
    INFERENCE_PRICES,
    MAX_UPSCALE_FACTOR,
    MIN_UPSCALE_FACTOR,
    RESOLUTION_TIERS,
    UPSCALE_FACTORS,
    nearest_allowed_size,
    tier_of,
)
from ai_processing.simulator import imaging

INFERENCE_COST = 0.039  # google:4@1, USD per image
CAPTION_COST = 0.0013
#: imageUpscale's price is not published per call ([UNCONFIRMED]); the docs' sample answer
#: says "cost": 0. The simulator charges this small figure so cost bookkeeping is exercised.
UPSCALE_COST = 0.002
UPLOAD_MAX_SIDE = 2048
#: The simulator's own guard on an upscale's output (Runware's real cap is [UNCONFIRMED]):
#: beyond it the answer would not fit a test machine's memory.
UPSCALE_MAX_OUTPUT_PIXELS = 100_000_000
#: Image models the simulator accepts, each with its size table (``ALLOWED_SIZES``); any
#: other AIR is refused like an unknown model.
INFERENCE_MODELS = frozenset(ALLOWED_SIZES)
#: Upscaler AIRs the SDK documents for imageUpscale (no model: Runware's default upscaler).
UPSCALE_MODELS = frozenset({"runware:500@1", "runware:501@1", "runware:502@1", "runware:503@1"})
DOCS = "https://runware.ai/docs/en/image-inference/api-reference"
_B64 = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}$")
_IMAGE_PATH = re.compile(r"^/images/([0-9a-fA-F-]{36})\.\w+$")


class TaskError(Exception):
    """A Runware error object for one task."""

    def __init__(self, code: str, message: str, parameter: str | None = None, **extra):
        super().__init__(message)
        self.code, self.message, self.parameter, self.extra = code, message, parameter, extra

    def as_dict(self, task: dict) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "parameter": self.parameter,
            "taskType": task.get("taskType"),
            "taskUUID": task.get("taskUUID"),
            "documentation": DOCS,
            **self.extra,
        }


@dataclass
class ImageStore:
    """Images by UUID: uploads and results, served at /images/<uuid>.<ext>."""

    images: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)

    def put(self, data: bytes) -> str:
        ext, mime = imaging.mime_of(data)
        image_uuid = str(uuid.uuid4())
        self.images[image_uuid] = (data, ext, mime)
        return image_uuid

    def url(self, base_url: str, image_uuid: str) -> str:
        return f"{base_url}/images/{image_uuid}.{self.images[image_uuid][1]}"

    def resolve(self, ref: object, parameter: str) -> bytes:
        """Image bytes from a data URI, base64, a URL of this simulator or an image UUID."""
        if not isinstance(ref, str) or not ref:
            raise TaskError("invalidImage", f"Invalid value for '{parameter}'.", parameter)
        if ref in self.images:
            return self.images[ref][0]
        if ref.startswith(("http://", "https://")):
            match = _IMAGE_PATH.match(urlparse(ref).path)
            if match and match.group(1) in self.images:
                return self.images[match.group(1)][0]
            raise TaskError(
                "invalidImageURL", f"Could not download the image for '{parameter}'.", parameter
            )
        payload = ref.split(",", 1)[1] if ref.startswith("data:") and "," in ref else ref
        if not _B64.match(payload[:200]):
            raise TaskError("invalidImage", f"Invalid image reference in '{parameter}'.", parameter)
        try:
            data = base64.b64decode(payload, validate=False)
            imaging.open_image(data)
        except (binascii.Error, ValueError) as exc:
            raise TaskError("invalidImage", f"Invalid image in '{parameter}'.", parameter) from exc
        return data


def _deliver_image(task: dict, store: ImageStore, base_url: str, data: bytes, fmt: str) -> dict:
    output_type = task.get("outputType", "URL")
    if isinstance(output_type, list):
        output_type = output_type[0] if output_type else "URL"
    image_uuid = store.put(data)
    out: dict = {"imageUUID": image_uuid}
    if output_type == "base64Data":
        out["imageBase64Data"] = base64.b64encode(data).decode()
    elif output_type == "dataURI":
        mime = imaging.FORMATS.get(fmt, imaging.FORMATS["JPG"])[2]
        out["imageDataURI"] = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    elif output_type == "URL":
        out["imageURL"] = store.url(base_url, image_uuid)
    else:
        raise TaskError("invalidOutputType", "Invalid value for 'outputType'.", "outputType")
    return out


def _reference_images(task: dict) -> list:
    inputs = task.get("inputs") or {}
    refs = inputs.get("referenceImages") or task.get("referenceImages") or []
    refs = refs if isinstance(refs, list) else [refs]
    return [r.get("image") if isinstance(r, dict) else r for r in refs]


def _size(task: dict, model: str, refs: list[bytes]) -> tuple[int, int]:
    """The output size, validated as Runware's model pages state: ``width`` and ``height``
    together, one of the model's allowed sizes; or (tiered models) ``resolution`` alone,
    never both; or neither when reference images give the aspect."""
    width, height = task.get("width"), task.get("height")
    resolution = task.get("resolution")
    tiers = RESOLUTION_TIERS.get(model)
    if (width is None) != (height is None):
        missing = "height" if height is None else "width"
        raise TaskError("missingParameter", "'width' and 'height' must be used together.", missing)
    if resolution is not None:
        if tiers is None:
            raise TaskError(
                "unsupportedParameter",
                f"Parameter 'resolution' is not supported by model {model}.",
                "resolution",
            )
        if width is not None:
            raise TaskError(
                "invalidParameter",
                "'resolution' cannot be used with 'width/height'.",
                "resolution",
            )
        if resolution not in tiers:
            raise TaskError(
                "invalidResolution",
                f"Invalid value for 'resolution': {resolution!r}. "
                f"Allowed values: {', '.join(tiers)}.",
                "resolution",
                allowedValues=list(tiers),
            )
    allowed = ALLOWED_SIZES[model]
    if width is None:
        if not refs:
            raise TaskError(
                "invalidParameter",
                "Either provide 'inputs.referenceImages', or specify 'width/height'"
                + (" or 'resolution'." if tiers else "."),
                "inputs.referenceImages",
            )
        w, h = imaging.open_image(refs[0]).size
        return nearest_allowed_size(w, h, model, tier=resolution)
    if not isinstance(width, int) or not isinstance(height, int):
        raise TaskError("invalidParameter", "'width' and 'height' must be integers.", "width")
    if (width, height) not in allowed:
        sizes = ", ".join(f"{w}x{h}" for w, h in allowed)
        raise TaskError(
            "invalidDimensions",
            f"Invalid size {width}x{height} for model {model}. Allowed sizes: {sizes}.",
            "width",
            allowedValues=[f"{w}x{h}" for w, h in allowed],
        )
    return width, height


def image_inference(task: dict, store: ImageStore, base_url: str) -> list[dict]:
    model = task.get("model")
    if not model:
        raise TaskError("missingModel", "Missing required parameter 'model'.", "model")
    if model not in INFERENCE_MODELS:
        raise TaskError(
            "invalidModel",
            f"Invalid value for 'model': {model!r} is not an available image model.",
            "model",
        )
    fmt = str(task.get("outputFormat", "JPG")).upper()
    if fmt not in imaging.FORMATS:
        raise TaskError("invalidOutputFormat", "Invalid value for 'outputFormat'.", "outputFormat")
    quality = int(task.get("outputQuality", 95))
    if not 20 <= quality <= 99:
        raise TaskError("invalidOutputQuality", "'outputQuality' must be 20-99.", "outputQuality")
    prompt = str(task.get("positivePrompt") or "")
    refs = [store.resolve(r, "inputs.referenceImages") for r in _reference_images(task)]
    size = _size(task, model, refs)
    price = INFERENCE_PRICES[model][tier_of(model, *size)]
    seed = task.get("seed")
    results = []
    for n in range(int(task.get("numberResults") or 1)):
        key = prompt if n == 0 else f"{prompt}#{n}"
        img = imaging.edit(refs[0], key, size) if refs else imaging.generate(key, size)
        data = imaging.encode(img, fmt, quality)
        item = {
            "taskType": "imageInference",
            "taskUUID": task["taskUUID"],
            **_deliver_image(task, store, base_url, data, fmt),
            "seed": seed
            if seed is not None
            else imaging.derived_seed(refs[0] if refs else None, key),
            "NSFWContent": False,
        }
        if task.get("includeCost"):
            item["cost"] = price
        results.append(item)
    return results


def image_upscale(task: dict, store: ImageStore, base_url: str) -> list[dict]:
    """``imageUpscale``: the input enlarged by ``upscaleFactor`` (2, 3 or 4), resampled for
    real (Lanczos, then a light unsharp mask standing in for the model's added detail)."""
    inputs = task.get("inputs") if isinstance(task.get("inputs"), dict) else {}
    ref = task.get("inputImage") or inputs.get("image")
    parameter = "inputImage" if task.get("inputImage") else "inputs.image"
    if not ref:
        raise TaskError(
            "missingInputImage", "Missing required parameter 'inputImage'.", "inputImage"
        )
    model = task.get("model")
    if model is not None and model not in UPSCALE_MODELS:
        raise TaskError(
            "invalidModel",
            f"Invalid value for 'model': {model!r} is not an available upscale model.",
            "model",
        )
    factor = task.get("upscaleFactor")
    if factor is None:
        raise TaskError(
            "missingUpscaleFactor", "Missing required parameter 'upscaleFactor'.", "upscaleFactor"
        )
    if isinstance(factor, float) and factor.is_integer():
        factor = int(factor)  # JSON 2.0 is the integer 2
    if isinstance(factor, bool) or not isinstance(factor, int) or factor not in UPSCALE_FACTORS:
        raise TaskError(
            "invalidUpscaleFactor",
            f"Invalid value for 'upscaleFactor': {factor!r}. It must be an integer between "
            f"{MIN_UPSCALE_FACTOR} and {MAX_UPSCALE_FACTOR}.",
            "upscaleFactor",
            type="integer",
            min=MIN_UPSCALE_FACTOR,
            max=MAX_UPSCALE_FACTOR,
        )
    fmt = str(task.get("outputFormat", "JPG")).upper()
    if fmt not in imaging.FORMATS:
        raise TaskError("invalidOutputFormat", "Invalid value for 'outputFormat'.", "outputFormat")
    quality = int(task.get("outputQuality", 95))
    if not 20 <= quality <= 99:
        raise TaskError("invalidOutputQuality", "'outputQuality' must be 20-99.", "outputQuality")
    data = store.resolve(ref, parameter)
    input_uuid = ref if ref in store.images else store.put(data)
    width, height = imaging.open_image(data).size
    if width * height * factor * factor > UPSCALE_MAX_OUTPUT_PIXELS:
        raise TaskError(
            "invalidImageSize",
            f"The upscaled image ({width * factor}x{height * factor}) would exceed the maximum "
            f"output size of {UPSCALE_MAX_OUTPUT_PIXELS // 1_000_000} megapixels.",
            parameter,
        )
    out = imaging.upscale(data, factor)
    encoded = imaging.encode(out, fmt, quality)
    item = {
        "taskType": "imageUpscale",
        "taskUUID": task["taskUUID"],
        "inputImageUUID": input_uuid,
        **_deliver_image(task, store, base_url, encoded, fmt),
    }
    if task.get("includeCost"):
        item["cost"] = UPSCALE_COST
    return [item]


def image_caption(task: dict, store: ImageStore, base_url: str) -> list[dict]:
    one, many = task.get("inputImage"), task.get("inputImages")
    if one and many:
        raise TaskError(
            "invalidParameter", "Use either 'inputImage' or 'inputImages', not both.", "inputImages"
        )
    if not one and not many:
        raise TaskError(
            "missingInputImage", "Missing required parameter 'inputImage'.", "inputImage"
        )
    refs = [one] if one else list(many)
    texts = [imaging.caption(store.resolve(r, "inputImage")) for r in refs]
    item = {"taskType": "imageCaption", "taskUUID": task["taskUUID"], "text": " ".join(texts)}
    if task.get("includeCost"):
        item["cost"] = CAPTION_COST
    return [item]


def image_upload(task: dict, store: ImageStore, base_url: str) -> list[dict]:
    if not task.get("image"):
        raise TaskError("missingImage", "Missing required parameter 'image'.", "image")
    data = store.resolve(task["image"], "image")
    img = imaging.open_image(data)
    if max(img.size) > UPLOAD_MAX_SIDE:
        img.thumbnail((UPLOAD_MAX_SIDE, UPLOAD_MAX_SIDE))
        data = imaging.encode(img, "PNG" if img.mode == "RGBA" else "JPG")
    image_uuid = store.put(data)
    return [
        {
            "taskType": "imageUpload",
            "taskUUID": task["taskUUID"],
            "imageUUID": image_uuid,
            "imageURL": store.url(base_url, image_uuid),
        }
    ]


HANDLERS = {
    "imageInference": image_inference,
    "imageCaption": image_caption,
    "imageUpload": image_upload,
    "imageUpscale": image_upscale,
}
