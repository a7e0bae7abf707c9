"""Make the app's PNG icons and favicon.ico from the SVG marks in static/icons/.

Run by hand after changing a mark, and commit what it writes:

    .venv/bin/python tools/make_icons.py

The SVGs are the source; the PNGs exist because web app manifests, iOS home
screens and ``/favicon.ico`` want bitmaps. Rendering happens here, never at run
time: the site serves committed files (the ingest workers block libvips' SVG
loader anyway, as SVG is not a photograph format). libvips (pyvips, already a
dependency) draws the SVG with librsvg; Pillow writes the multi-size .ico.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyvips
from PIL import Image

ICONS = Path(__file__).resolve().parents[1] / "static" / "icons"
MARK = ICONS / "rkh-mark.svg"  # rounded square: browser tabs, "any" purpose app icons
MASKABLE = ICONS / "rkh-maskable.svg"  # full bleed: maskable app icons, Apple touch icon

#: (source, output name, size in pixels)
PNGS = [
    (MARK, "icon-192.png", 192),
    (MARK, "icon-512.png", 512),
    (MASKABLE, "maskable-192.png", 192),
    (MASKABLE, "maskable-512.png", 512),
    # iOS puts its own rounded corners on a full-bleed square and shows transparency as black.
    (MASKABLE, "apple-touch-icon.png", 180),
]
ICO_SIZES = [16, 32, 48]


def render(svg: Path, size: int) -> Image.Image:
    """The SVG drawn at ``size`` x ``size`` pixels (its viewBox is square), as RGBA."""
    source = svg.read_bytes()
    probe = pyvips.Image.svgload_buffer(source)
    image = pyvips.Image.svgload_buffer(source, scale=size / probe.width)
    if image.width != size or image.height != size:  # rounding of the scale
        image = image.thumbnail_image(size, height=size, size="force")
    png = image.write_to_buffer(".png")
    return Image.open(io.BytesIO(png)).convert("RGBA")


def main() -> None:
    for source, name, size in PNGS:
        picture = render(source, size)
        if name == "apple-touch-icon.png":
            picture = picture.convert("RGB")  # no alpha: iOS would show black
        picture.save(ICONS / name, optimize=True)
        print(f"wrote {ICONS / name} ({size}x{size})")
    # Each size drawn from the vector, not shrunk from one bitmap: small sizes stay sharp.
    largest = render(MARK, max(ICO_SIZES))
    others = [render(MARK, size) for size in ICO_SIZES if size != max(ICO_SIZES)]
    largest.save(
        ICONS / "favicon.ico",
        sizes=[(s, s) for s in ICO_SIZES],
        append_images=others,
    )
    print(f"wrote {ICONS / 'favicon.ico'} ({', '.join(map(str, ICO_SIZES))} px)")


if __name__ == "__main__":
    main()
