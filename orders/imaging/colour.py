"""Colour: every rendition ends as 8-bit sRGB without alpha, whatever came in.

Browsers, the AI providers and the PMR assume sRGB. A phone's Display P3 or a
studio's Adobe RGB shown as sRGB looks dull or garish; CMYK shown as RGB is
nonsense. The colour transform is the costly part, so it runs only when the
source needs it: CMYK, or an embedded profile that is not sRGB.
"""

from __future__ import annotations

import io

import pyvips
from PIL import ImageCms


def profile_name(data: bytes) -> str:
    """The ICC profile's description ("Display P3", "sRGB IEC61966-2.1"), or "" if unreadable."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(data))
        return ImageCms.getProfileDescription(profile).strip()[:100]
    except Exception:
        return ""


def needs_transform(interpretation: str, icc_profile: str | None) -> bool:
    """Whether pixels must go through an ICC transform to become sRGB.

    ``icc_profile`` is the embedded profile's name, None without one and ""
    when it cannot be read (then it cannot be used either, and is ignored).
    """
    if interpretation == "cmyk":
        return True
    return bool(icc_profile) and "srgb" not in icc_profile.lower()


def to_srgb_8bit(image: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB, three bands, alpha flattened onto white.

    Grey and 16-bit data go through ``colourspace``, which scales 16 to 8 bits
    (a plain cast would clip everything above 255 to white).
    """
    if image.interpretation != "srgb" or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.format != "uchar":
        image = image.cast("uchar")
    return image
