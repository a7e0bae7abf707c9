"""The full-resolution fit as it was written first: plain, one solve per call, no caches.

Kept as the reference for ``ai_processing.fullres.transform.fit``, which shares the work of
its passes (issue 14: the fit was most of an image's CPU); the helpers that did not change
(the colour matrix, the pooling, the grid's smoothness) are the product's.
``test_fullres_fit_reference.py`` checks the two give the same transform. Not used by the
product.
"""

from __future__ import annotations

import numpy as np

from ai_processing.fullres.transform import (
    CURVE_SMOOTHNESS,
    FIELD_PRIOR,
    FIELD_SMOOTHNESS,
    FIT_PASSES,
    FIT_STRIDE,
    ROBUST_FLOOR,
    ROBUST_PASSES,
    ROBUST_SIGMAS,
    SIMPLER_BY_DB,
    Transform,
    _colour,
    _curves,
    _fields_at,
    _fit_matrix,
    _grid_laplacian,
    _pool,
    _psnr,
    _uncolour,
    grid_shape,
)


def fit(small: np.ndarray, answer: np.ndarray) -> Transform:
    """The transform that best turns ``small`` into ``answer`` (both H x W x 3, 0-255).

    Fitted on every ``FIT_STRIDE``-th pixel each way (a quarter of a megapixel decides the
    3 x 256 + 12 global unknowns), the fields on that pooled by ``FIELD_POOL``. A first
    round finds the pixels the model changed in content (they then weigh little); the
    second fits two models, with and without the colour matrix's cross terms, and keeps the
    simpler one unless the matrix explains more than ``SIMPLER_BY_DB``; likewise the local
    fields. Each stage left out saves a float pass over 24 MP, and a stage the pair does not
    need only carries the fit's noise along: in a grey picture the channels are collinear,
    the matrix is not determined, and the wild curves it permits would amplify the JPEG's
    chroma noise at full size.
    """
    if small.shape != answer.shape or small.ndim != 3 or small.shape[2] != 3:
        raise ValueError(f"the pair differs in shape: {small.shape} and {answer.shape}")
    x = small[::FIT_STRIDE, ::FIT_STRIDE].astype(np.float64)
    y = answer[::FIT_STRIDE, ::FIT_STRIDE].astype(np.float64)
    grid = grid_shape(small.shape[1], small.shape[0])
    first = _fit_once(x, y, np.ones(x.shape[:2]), grid, cross=True, passes=ROBUST_PASSES)
    residual = np.abs(first.predict(x) - y).mean(axis=2)
    sigma = max(ROBUST_FLOOR, 1.4826 * float(np.median(residual)))
    weights = 1.0 / (1.0 + (residual / (ROBUST_SIGMAS * sigma)) ** 2)
    mixed = _fit_once(x, y, weights, grid, cross=True)
    plain = _fit_once(x, y, weights, grid, cross=False)
    if _psnr(mixed.predict(x), y) - _psnr(plain.predict(x), y) > SIMPLER_BY_DB:
        chosen = mixed
    else:
        chosen = plain
    with_fields = _psnr(chosen.predict(x), y)
    chosen.local = False
    if with_fields - _psnr(chosen.predict(x), y) > SIMPLER_BY_DB:
        chosen.local = True
    return chosen


def _fit_once(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    grid: tuple[int, int],
    *,
    cross: bool,
    passes: int = FIT_PASSES,
) -> Transform:
    """Curves (with ``cross``, alternately with the colour matrix), then the fields; then
    the curves again against what the fields leave them to explain, and the fields again.

    The second pass matters: a vignette over a sky of nearly one value correlates value
    with place, and curves fitted alone bend to explain it (steep in places, which at full
    size amplifies the grain); fitted again behind the fields they straighten out.
    """
    identity = np.hstack([np.eye(3), np.zeros((3, 1))])
    target = y
    gain = offset = None
    for _ in range(passes):
        luts = np.stack([_fit_curve(x[..., c], target[..., c], weights) for c in range(3)])
        curved = _curves(luts, x)
        matrix = identity
        if cross:
            matrix = _fit_matrix(curved, target, weights)
            wanted = _uncolour(matrix, target)  # the curves again, against the matrix
            luts = np.stack([_fit_curve(x[..., c], wanted[..., c], weights) for c in range(3)])
            curved = _curves(luts, x)
            matrix = _fit_matrix(curved, target, weights)
        gain, offset = _fit_fields(_colour(matrix, curved), y, weights, grid)
        field_gain, field_offset = _fields_at(gain, offset, x.shape[1], x.shape[0])
        target = (y - field_offset) / np.maximum(field_gain, 0.05)
    return Transform(luts=luts, matrix=matrix, gain=gain, offset=offset, cross=cross)


def _fit_curve(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A smooth 256-entry curve f with f(x) ~ y, x read between entries linearly."""
    x = np.clip(x.ravel(), 0, 255)
    y = y.ravel()
    w = w.ravel()
    low = np.minimum(np.floor(x).astype(np.int64), 254)
    b = x - low  # weight of entry low+1
    a = 1 - b
    n = 256
    diag = np.bincount(low, w * a * a, n) + np.bincount(low + 1, w * b * b, n)
    off = np.bincount(low, w * a * b, n)[: n - 1]
    rhs = np.bincount(low, w * a * y, n) + np.bincount(low + 1, w * b * y, n)
    normal = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    second = np.diff(np.eye(n), 2, axis=0)
    strength = CURVE_SMOOTHNESS * max(float(w.sum()) / n, 1.0)
    normal += strength * second.T @ second
    # A faint pull toward the identity keeps entries no pixel reached defined.
    normal += 1e-6 * strength * np.eye(n)
    rhs += 1e-6 * strength * np.arange(n)
    return np.linalg.solve(normal, rhs)


def _fit_fields(
    v: np.ndarray, y: np.ndarray, w: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel gain and offset on a (gy, gx) grid, bilinear in between: y ~ g v + o."""
    gy, gx = shape
    v, y, w = _pool(v), _pool(y), _pool(w[..., None])[..., 0]
    h, wd = w.shape
    fx = np.clip((np.arange(wd) + 0.5) / wd * (gx - 1), 0, gx - 1 - 1e-9)
    fy = np.clip((np.arange(h) + 0.5) / h * (gy - 1), 0, gy - 1 - 1e-9)
    ix, iy = np.floor(fx).astype(int), np.floor(fy).astype(int)
    tx, ty = fx - ix, fy - iy
    corners = []  # (node index, weight) for the four corners of every pixel
    for dy, wy in ((0, 1 - ty), (1, ty)):
        for dx, wx in ((0, 1 - tx), (1, tx)):
            node = (iy[:, None] + dy) * gx + (ix[None, :] + dx)
            corners.append((node.ravel(), (wy[:, None] * wx[None, :]).ravel()))
    nodes = gy * gx
    smooth = _grid_laplacian(gy, gx)
    gains = np.ones((gy, gx, 3))
    offsets = np.zeros((gy, gx, 3))
    ww = w.ravel()
    prior = FIELD_PRIOR * float(ww.sum()) / nodes
    for c in range(3):
        vc = v[..., c].ravel() / 255.0
        yc = y[..., c].ravel() / 255.0
        # Unknowns: gains (nodes) then offsets (nodes). Normal equations by accumulation.
        normal = np.zeros((2 * nodes, 2 * nodes))
        rhs = np.zeros(2 * nodes)
        for ni, wi in corners:
            rhs[:nodes] += np.bincount(ni, ww * wi * vc * yc, nodes)
            rhs[nodes:] += np.bincount(ni, ww * wi * yc, nodes)
            for nj, wj in corners:
                pair = ni * nodes + nj
                ab = ww * wi * wj
                size = nodes * nodes
                squares = np.bincount(pair, ab * vc * vc, size)
                normal[:nodes, :nodes] += squares.reshape(nodes, nodes)
                cross = np.bincount(pair, ab * vc, size).reshape(nodes, nodes)
                normal[:nodes, nodes:] += cross
                normal[nodes:, :nodes] += cross.T
                normal[nodes:, nodes:] += np.bincount(pair, ab, size).reshape(nodes, nodes)
        reg = FIELD_SMOOTHNESS * float(ww.sum()) / nodes * smooth
        normal[:nodes, :nodes] += reg + prior * np.eye(nodes)
        normal[nodes:, nodes:] += reg + prior * np.eye(nodes)
        rhs[:nodes] += prior  # toward gain 1 (offset 0 needs no term)
        solved = np.linalg.solve(normal, rhs)
        gains[..., c] = solved[:nodes].reshape(gy, gx)
        offsets[..., c] = solved[nodes:].reshape(gy, gx) * 255.0
    return gains, offsets
