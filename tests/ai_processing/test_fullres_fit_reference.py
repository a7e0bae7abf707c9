"""The fit that shares its passes' work gives the transform of the plain formulation.

``ai_processing.fullres.transform.fit`` keeps what does not change between its passes (where
samples fall between curve entries and grid nodes, the curves' inverted normal equations, the
fields' offset block); ``tests/ai_processing/fullres_reference_fit.py`` is the same fit written
plainly, one solve per call. On real photographs with a tonal edit, a colour edit and a content
change (robust weights far from 1), both give the same curves, matrix, fields and choices.
"""

from __future__ import annotations

import numpy as np
import pytest

from ai_processing.fullres import transform
from tests.ai_processing import fullres_reference_fit as reference
from tests.ai_processing.test_fullres import camera_like, downscale, tonal_edit

ANSWER = (624, 416)


def _saturated(pixels: np.ndarray) -> np.ndarray:
    x = pixels.astype(np.float64)
    luma = x @ np.array([0.2126, 0.7152, 0.0722])
    return np.clip(np.rint(luma[..., None] + 1.3 * (x - luma[..., None])), 0, 255).astype(np.uint8)


def _painted(pixels: np.ndarray) -> np.ndarray:
    out = tonal_edit(pixels).copy()
    out[100:260, 120:300] = (250, 20, 200)  # content the model invented
    return out


@pytest.mark.parametrize(
    ("name", "edit"),
    [("rocket.jpg", tonal_edit), ("camera.png", _saturated), ("rocket.jpg", _painted)],
    ids=["tonal", "colour", "content"],
)
def test_the_fit_equals_the_plain_formulation(name, edit):
    small = downscale(camera_like(name, (1248, 832)), ANSWER)
    answer = edit(small)

    fast = transform.fit(small, answer)
    plain = reference.fit(small, answer)

    assert (fast.cross, fast.local) == (plain.cross, plain.local)
    np.testing.assert_allclose(fast.luts, plain.luts, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fast.matrix, plain.matrix, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.gain, plain.gain, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.offset, plain.offset, rtol=0, atol=1e-6)


def test_the_curves_at_whole_levels_are_the_interpolated_ones():
    """``predict`` on the uint8 small view reads the curves by lookup; the floats are the
    interpolation's, bit for bit, at every level (0 and 255, the two ends, included)."""
    rng = np.random.default_rng(7)
    luts = np.cumsum(rng.random((3, 256)), axis=1) * 0.9 - 3.0
    levels = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), -1)
    x = np.concatenate([levels, levels[..., :1][:, ::-1]], axis=-1).astype(np.uint8)
    looked_up = transform._curves(luts, x)
    assert looked_up.dtype == np.float64
    assert np.array_equal(looked_up, transform._curves(luts, x.astype(np.float64)))
