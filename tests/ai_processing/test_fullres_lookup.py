"""The tonal transform's 16-bit lookup: curves and local fields in one libvips pass.

``Transform.apply`` turns curves plus gain/offset fields into one lookup indexed by the
pixel's value and its block's quantised map, when the maps fit the table closely enough
(``LOOKUP_MAX_ERROR``), and takes the float passes otherwise. Both must agree with the
transform's own numpy prediction at full size. No database.
"""

from __future__ import annotations

import numpy as np
import pytest
import pyvips

from ai_processing.fullres import align, transform
from ai_processing.fullres.transform import Transform

WIDTH, HEIGHT = 1200, 800


def picture(seed: int = 3) -> np.ndarray:
    """Smooth gradients with grain: every value from dark to light, in every channel."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = np.stack([xx / WIDTH, yy / HEIGHT, (xx + yy) / (WIDTH + HEIGHT)], axis=-1) * 255
    noise = np.random.default_rng(seed).normal(0, 6, base.shape)
    return np.clip(np.rint(base + noise), 0, 255).astype(np.uint8)


def vips_image(pixels: np.ndarray) -> pyvips.Image:
    height, width, bands = pixels.shape
    return pyvips.Image.new_from_memory(pixels.tobytes(), width, height, bands, "uchar")


def edit(gain_spread: float, offset_spread: float) -> Transform:
    """Curves (gamma per channel) and fields (a vignette-like gain, a tilted offset)."""
    values = np.arange(256) / 255
    luts = np.stack([255 * values**gamma for gamma in (0.9, 1.0, 1.1)])
    gy, gx = transform.grid_shape(WIDTH, HEIGHT)
    yy, xx = np.mgrid[0:gy, 0:gx]
    r2 = (xx / (gx - 1) - 0.5) ** 2 + (yy / (gy - 1) - 0.5) ** 2
    gain = np.repeat((1 - gain_spread * r2)[..., None], 3, axis=2)
    gain[..., 2] *= 1 + gain_spread * xx / (gx - 1) / 4
    offset = np.repeat((offset_spread * (xx / (gx - 1) - 0.5))[..., None], 3, axis=2)
    matrix = np.hstack([np.eye(3), np.zeros((3, 1))])
    return Transform(luts=luts, matrix=matrix, gain=gain, offset=offset, cross=False, local=True)


def rendered(chosen: Transform, pixels: np.ndarray) -> np.ndarray:
    return align.to_array(chosen.apply(vips_image(pixels)))


def test_a_moderate_edit_is_one_lookup_within_the_promised_error():
    pixels = picture()
    chosen = edit(gain_spread=0.35, offset_spread=12.0)
    assert chosen._field_lookup(vips_image(pixels), None) is not None
    expected = np.clip(np.rint(chosen.predict(pixels)), 0, 255)
    difference = np.abs(rendered(chosen, pixels).astype(np.float64) - expected)
    assert chosen.applied_as == "16-bit lookup"
    # The map quantisation (LOOKUP_MAX_ERROR), the 16-pixel blocks and the final rounding.
    assert difference.max() <= transform.LOOKUP_MAX_ERROR + 1
    assert difference.mean() < 0.5


def test_fields_too_varied_for_the_table_take_the_float_passes():
    pixels = picture()
    chosen = edit(gain_spread=1.0, offset_spread=60.0)
    assert chosen._field_lookup(vips_image(pixels), None) is None
    expected = np.clip(np.rint(chosen.predict(pixels)), 0, 255)
    difference = np.abs(rendered(chosen, pixels).astype(np.float64) - expected)
    assert difference.max() <= 2
    assert difference.mean() < 0.5


@pytest.mark.parametrize("local", [False, True])
def test_a_colour_matrix_renders_as_the_float_transform_predicts(local):
    """The colour matrix (more saturation, a cast) takes libvips' ``recomb`` after the 8-bit
    curves, and the float fields behind it: within the curves' 8-bit rounding (carried
    through the matrix) and the final rounding of the numpy prediction."""
    pixels = picture()
    chosen = edit(gain_spread=0.35, offset_spread=12.0)
    luma = np.array([0.2126, 0.7152, 0.0722])
    saturation = 1.25 * np.eye(3) - 0.25 * np.outer(np.ones(3), luma)
    chosen.matrix = np.hstack([saturation, np.array([[3.0], [-2.0], [1.0]])])
    chosen.cross, chosen.local = True, local
    expected = np.clip(np.rint(chosen.predict(pixels)), 0, 255)
    difference = np.abs(rendered(chosen, pixels).astype(np.float64) - expected)
    assert chosen.applied_as == (
        "8-bit lookup, matrix, float fields" if local else "8-bit lookup, matrix"
    )
    assert difference.max() <= 2
    assert difference.mean() < 0.3


def test_maps_spread_beyond_any_grid_are_refused_without_counting_them():
    ends = np.linspace(0, 1e6, 10_000)  # a wild fit: gains in the thousands
    assert transform._quantise_maps(ends, ends[::-1].copy()) is None
    # A thin line of maps fits however long it is, when its cells are few enough.
    assert transform._quantise_maps(ends / 1e4, ends / 1e4) is not None
