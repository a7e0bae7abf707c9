"""The colour transform learnt from the small pair, and applied to the full-size original.

Prior art: bilateral guided upsampling (Chen, Adams, Wadhwa, Hasinoff, SIGGRAPH Asia 2016)
fits a grid of local affine colour transforms, indexed by position and by the guide's
intensity, on the low-resolution pair, and applies it by slicing the grid with the
full-resolution guide; per-region 3D LUTs do the same with a lookup table per tile. Both
explain a tone/colour edit as a function of the pixel's value that varies slowly across the
picture, and both keep the full image's detail because the function, not the pixels, is
carried up.

Here the grid is factorised so that applying it is a handful of streaming libvips
operations rather than a per-pixel trilinear slice (which costs seconds at 24 MP in numpy):

1. per-channel tone curves (a 256-entry LUT each): the intensity axis of the grid, shared
   by the whole picture; curves, levels, white balance, exposure;
2. a 3x3 colour matrix plus offset: cross-channel changes (saturation, hue rotation);
3. a coarse spatial grid of per-channel gain and offset, bilinearly interpolated: local
   exposure and colour (vignetting, a brightened face, a graduated sky).

``out = gain(x, y) * (M @ lut(in) + m) + offset(x, y)``, each stage left out when the fit
finds it is the identity. Without the matrix, curves and fields are applied as one 16-bit
lookup (``Transform._field_lookup``): the float passes cost more than the decode.

Fitted by weighted least squares with smoothness priors, in two robust rounds (pixels the
model changed in content get small weights, so they do not bend the tone fit; the score then
shows them). No Django here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyvips

#: Smoothness of the tone curves (second differences), relative to the pixels per bin.
CURVE_SMOOTHNESS = 0.3
#: Spatial grid: nodes along the long side of the picture.
GRID_LONG_SIDE = 12
#: Smoothness of the spatial fields and their pull toward gain 1, offset 0.
FIELD_SMOOTHNESS = 0.002
FIELD_PRIOR = 0.0005
#: The global stages are fitted on every FIT_STRIDE-th pixel each way. 3 (115,000 pixels of a
#: 1248 x 832 answer for 780 unknowns and the 96-node fields) fits as well as 2 did on the
#: bench's photos (PSNR within 0.1 dB, tone and colour edits) at two thirds of the CPU.
FIT_STRIDE = 3
#: Fields are fitted on the (strided) pair pooled by this factor: they are smooth.
FIELD_POOL = 2
#: Pull of the colour matrix toward the identity, relative to the colours' variance.
MATRIX_RIDGE = 0.02
#: A stage (local fields, cross-channel terms) that adds less PSNR than this is left out.
SIMPLER_BY_DB = 0.25
#: Passes of curves then fields (the second fits the curves behind the first's fields).
FIT_PASSES = 3
#: Passes of the first, robust round: it only finds the pixels the model changed in content,
#: which stand out after one pass. A fifth of the fit's CPU saved for 0.4 dB on the bench's
#: worst photo (bench/fullres.py, 5 photos: PSNR minimum 40.9 dB with 3 passes, 40.7 with 2,
#: 40.5 with 1; the others within 0.1 dB).
ROBUST_PASSES = 1
#: The robust round: residuals above this many robust sigmas weigh little.
ROBUST_SIGMAS = 2.5
ROBUST_FLOOR = 3.0
#: The spatial fields are rendered at 1/FIELD_BLOCK of full size and replicated up: a step
#: between blocks of a smooth field is far below one level.
FIELD_BLOCK = 8
#: Curves and fields as one 16-bit lookup (``Transform._field_lookup``) when the blocks' maps
#: fit in LOOKUP_MAPS per channel with at most this error (levels, before the final rounding);
#: else the float passes.
LOOKUP_MAX_ERROR = 1.0
LOOKUP_MAPS = 256
#: The lookup's blocks: 16 pixels (a smooth field moves well under a level across one, and
#: quantising a quarter as many maps costs a quarter of the time).
LOOKUP_BLOCK = 16
#: At most this many grid cells are counted when quantising the maps (memory: 4 MB).
LOOKUP_GRID_CELLS = 1 << 22


@dataclass
class Transform:
    """A fitted edit. Arrays in 0-255 units; fields in normalised region coordinates."""

    luts: np.ndarray  # (3, 256) float: tone curve per channel
    matrix: np.ndarray  # (3, 4) float: colour matrix and offset
    gain: np.ndarray  # (gy, gx, 3) float: spatial gain per channel
    offset: np.ndarray  # (gy, gx, 3) float: spatial offset per channel, in levels

    #: Whether the colour matrix mixes channels, and whether the local fields are applied:
    #: ``fit`` turns off what the small pair does not need (each costs a float pass at 24 MP).
    cross: bool = True
    local: bool = True
    #: How ``apply`` last applied it ("16-bit lookup", "float passes", ...): for the
    #: benchmark and the tests, not part of the fit.
    applied_as: str = field(default="", compare=False, repr=False)

    def curves(self) -> np.ndarray:
        """The tone curves as applied: without cross terms, the matrix's diagonal and offset
        are folded into them (a per-channel scale and shift is still a per-channel curve)."""
        if self.cross:
            return self.luts
        return self.luts * np.diag(self.matrix[:, :3])[:, None] + self.matrix[:, 3][:, None]

    def describe(self) -> dict[str, object]:
        """What the fit found, for ``ai_metadata`` (small and JSON-able)."""
        return {
            "curves": True,
            "colour_matrix": self.cross,
            "local_fields": self.local,
            "grid": [int(self.gain.shape[1]), int(self.gain.shape[0])],
            "gain_range": [round(float(self.gain.min()), 3), round(float(self.gain.max()), 3)]
            if self.local
            else [1.0, 1.0],
        }

    # --- numpy (the small pair) ------------------------------------------------------

    def predict(self, small: np.ndarray) -> np.ndarray:
        """The transform applied to ``small`` (H x W x 3, 0-255), as float, not clipped."""
        v = _curves(self.curves(), small)
        if self.cross:
            v = _colour(self.matrix, v)
        if not self.local:
            return v
        gain, offset = _fields_at(self.gain, self.offset, small.shape[1], small.shape[0])
        return v * gain + offset

    # --- libvips (the full original, streamed) -----------------------------------------

    def apply(
        self, image: pyvips.Image, region: tuple[float, float, float, float] | None = None
    ) -> pyvips.Image:
        """The transform on ``image`` (8-bit, 3 bands) as a lazy 8-bit libvips image.

        ``region`` (left, top, width, height, in ``image`` pixels) is the part of the
        picture the fit saw; the fields are defined over it and held at their edge values
        outside it, so a model answer cropped to another aspect still edits the whole
        original. ``applied_as`` then says which way it went (the benchmark prints it).
        """
        # The curves as an exact 8-bit lookup (rounding there costs under 0.3 levels RMS
        # after the matrix; a float lookup would make every later pass 4x the bytes).
        table = np.clip(np.rint(self.curves()), 0, 255).astype(np.uint8)
        lut = pyvips.Image.new_from_memory(
            np.ascontiguousarray(table.T).tobytes(), 256, 1, 3, "uchar"
        )
        out = image.maplut(lut)
        if not self.local and not self.cross:  # curves only: one 8-bit lookup, nothing else
            self.applied_as = "8-bit lookup"
            return out.copy(interpretation="srgb")
        if not self.local:  # curves and matrix: the rounding's 0.5 rides in the constant
            self.applied_as = "8-bit lookup, matrix"
            constant = (self.matrix[:, 3] + 0.5).tolist()
            # (``linear(..., uchar=True)`` would save the cast but measures slower.)
            mixed = out.recomb(self.matrix[:, :3].tolist()).linear([1.0] * 3, constant)
            return mixed.cast("uchar").copy(interpretation="srgb")
        if not self.cross:
            looked_up = self._field_lookup(image, region, self.curves())
            if looked_up is not None:
                self.applied_as = "16-bit lookup"
                return looked_up
        # With the colour matrix the fields stay float passes: its ``recomb`` (about 200 ms
        # of CPU at 24 MP, float out) is most of the cost, and the fields on its float
        # output cost little more; quantising its output to index the 16-bit lookup
        # measured slower (docs/benchmarks.md, "Full resolution").
        self.applied_as = "8-bit lookup, matrix, float fields" if self.cross else "float fields"
        constant = self.matrix[:, 3] if self.cross else np.zeros(3)
        if self.cross:
            out = out.recomb(self.matrix[:, :3].tolist())
        # gain (M v + m) + offset = gain M v + (gain m + offset): the matrix's constant and
        # the rounding's 0.5 ride in the offset field, so two passes do the fields.
        gain, offset = self._field_images(image.width, image.height, region, constant)
        out = out * gain + offset
        # A clipping cast of value + 0.5: rounded to nearest, as the numpy prediction is.
        return out.cast("uchar").copy(interpretation="srgb")

    def _field_lookup(
        self,
        image: pyvips.Image,
        region: tuple[float, float, float, float] | None,
        curves: np.ndarray | None = None,
    ) -> pyvips.Image | None:
        """``curves`` (by default the transform's) and local fields in one 16-bit lookup,
        or None when it would be too coarse.

        Why: the fields as float passes (a float copy of the picture, two replicated field
        images, a multiply, an add, a cast) cost more than decoding the 24 MP original does;
        a lookup costs about a fifth of that. Every 16 x 16 block applies the map
        ``gain * curve(v) + offset`` per channel. Those maps are quantised onto a grid in
        (value at the curve's lowest output, value at its highest) with cells ``step`` wide,
        the finest step that leaves at most LOOKUP_MAPS cells in use: every map is then
        within ``step / 2`` levels of its cell's over the curve's whole range. Each block's
        cell number, shifted up 8 bits and or-ed with the pixel's value, indexes a 65536-entry
        table holding ``round(gain * curve(v) + offset)`` of that cell. Fields too varied for
        LOOKUP_MAX_ERROR (a strong local edit) take the float passes instead.
        """
        width, height = image.width, image.height
        curves = self.curves() if curves is None else curves
        gain, offset = self._field_blocks(width, height, region, np.zeros(3), LOOKUP_BLOCK)
        table = np.zeros((3, 256 * LOOKUP_MAPS), np.uint8)
        cells = np.empty(gain.shape, np.uint16)
        for c in range(3):
            low, high = float(curves[c].min()), float(curves[c].max())
            high = max(high, low + 1.0)
            g_c = np.ascontiguousarray(gain[..., c]).ravel()
            o_c = np.ascontiguousarray(offset[..., c]).ravel()
            quantised = _quantise_maps(g_c * low + o_c, g_c * high + o_c)
            if quantised is None:
                return None
            index, at_low, at_high = quantised
            cells[..., c] = index.reshape(gain.shape[:2]) << 8
            g = (at_high - at_low) / (high - low)
            o = at_low - g * low
            mapped = g[:, None] * curves[c][None, :] + o[:, None]
            table[c, : 256 * len(g)] = np.clip(np.rint(mapped), 0, 255).ravel()  # [cell, v]
        bh, bw = gain.shape[:2]
        index_image = (
            pyvips.Image.new_from_memory(np.ascontiguousarray(cells).tobytes(), bw, bh, 3, "ushort")
            .zoom(LOOKUP_BLOCK, LOOKUP_BLOCK)
            .crop(0, 0, width, height)
        )
        lut = pyvips.Image.new_from_memory(
            np.ascontiguousarray(table.T).tobytes(), 256 * LOOKUP_MAPS, 1, 3, "uchar"
        )
        return (image.cast("ushort") | index_image).maplut(lut).copy(interpretation="srgb")

    def _field_blocks(
        self,
        width: int,
        height: int,
        region: tuple[float, float, float, float] | None,
        constant: np.ndarray,
        block: int = FIELD_BLOCK,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gain and offset (plus gain x ``constant``) at the centres of ``block`` blocks."""
        left, top, rw, rh = region or (0.0, 0.0, float(width), float(height))
        bw, bh = -(-width // block), -(-height // block)
        xs = ((np.arange(bw) + 0.5) * block - left) / rw
        ys = ((np.arange(bh) + 0.5) * block - top) / rh
        gain = _bilinear(self.gain, xs, ys)
        return gain, _bilinear(self.offset, xs, ys) + gain * constant

    def _field_images(
        self,
        width: int,
        height: int,
        region: tuple[float, float, float, float] | None,
        constant: np.ndarray,
    ) -> tuple[pyvips.Image, pyvips.Image]:
        """Gain and offset (plus gain x ``constant`` + 0.5) at 1/FIELD_BLOCK of full size,
        replicated up to the full size."""
        bw, bh = -(-width // FIELD_BLOCK), -(-height // FIELD_BLOCK)
        gain64, offset64 = self._field_blocks(width, height, region, constant)
        gain = gain64.astype(np.float32)
        offset = (offset64 + 0.5).astype(np.float32)

        def vips(field: np.ndarray) -> pyvips.Image:
            small = pyvips.Image.new_from_memory(
                np.ascontiguousarray(field).tobytes(), bw, bh, 3, "float"
            )
            return small.zoom(FIELD_BLOCK, FIELD_BLOCK).crop(0, 0, width, height)

        return vips(gain), vips(offset)


def _quantise_maps(
    low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Cells for the maps given by their values at the two ends of the curve's range (two
    flat arrays, levels): (cell of each map, the cells' centres at the low end and at the
    high end), on the finest grid with at most LOOKUP_MAPS cells in use and a step of at
    most 2 x LOOKUP_MAX_ERROR; None when even that step needs more cells.

    The maps of a smooth field cover an area of the plane, so the cells in use grow as
    1 / step^2: each count gives the step to try next (a few counts, not a search).
    """
    low_min, high_min = float(low.min()), float(high.min())
    low_span, high_span = float(low.max()) - low_min, float(high.max()) - high_min
    largest = 2 * LOOKUP_MAX_ERROR
    # The finest step if the maps filled half their bounding box: rarely too fine by much.
    step = min(largest, max(0.05, float(np.sqrt(low_span * high_span / LOOKUP_MAPS / 2))))
    # A finer step would count more than about LOOKUP_GRID_CELLS bins (a wild fit's span):
    # if the coarsest allowed step is finer still, the float passes it is.
    step = max(step, float(np.sqrt((low_span + 2) * (high_span + 2) / LOOKUP_GRID_CELLS)))
    if step > largest:
        return None
    while True:
        columns = int(high_span / step) + 2
        rows = np.rint((low - low_min) * (1 / step)).astype(np.int32)
        key = rows * columns + np.rint((high - high_min) * (1 / step)).astype(np.int32)
        occupied = np.bincount(key) > 0
        used = int(np.count_nonzero(occupied))
        if used <= LOOKUP_MAPS:
            number = (np.cumsum(occupied) - 1).astype(np.uint16)
            keys = np.flatnonzero(occupied)
            centres_low = (keys // columns) * step + low_min
            centres_high = (keys % columns) * step + high_min
            return number[key], centres_low, centres_high
        if step >= largest:
            return None
        step = min(largest, step * max(1.05, float(np.sqrt(used / LOOKUP_MAPS))))


# --- fitting ------------------------------------------------------------------------------


def fit(small: np.ndarray, answer: np.ndarray) -> Transform:
    """The transform that best turns ``small`` into ``answer`` (both H x W x 3, 0-255).

    Fitted on every ``FIT_STRIDE``-th pixel each way (a tenth of a megapixel decides the
    3 x 256 + 12 global unknowns), the fields on that pooled by ``FIELD_POOL``. A first
    round finds the pixels the model changed in content (they then weigh little); the
    second fits two models, with and without the colour matrix's cross terms, and keeps the
    simpler one unless the matrix explains more than ``SIMPLER_BY_DB``; likewise the local
    fields. Each stage left out saves a float pass over 24 MP, and a stage the pair does not
    need only carries the fit's noise along: in a grey picture the channels are collinear,
    the matrix is not determined, and the wild curves it permits would amplify the JPEG's
    chroma noise at full size.

    The passes share what does not change between them (``_Sample``, ``_Weighted``): where
    each sample falls between curve entries and grid nodes, the curves' normal equations
    (they depend on the weights, not the target), the fields' offset block. The result is
    the plain formulation's (``tests/ai_processing/fullres_reference_fit.py``) to rounding;
    it costs a third of its CPU, which was most of an image's (issue 14).
    """
    if small.shape != answer.shape or small.ndim != 3 or small.shape[2] != 3:
        raise ValueError(f"the pair differs in shape: {small.shape} and {answer.shape}")
    x = small[::FIT_STRIDE, ::FIT_STRIDE].astype(np.float64)
    y = answer[::FIT_STRIDE, ::FIT_STRIDE].astype(np.float64)
    sample = _Sample(x, y, grid_shape(small.shape[1], small.shape[0]))
    first = _fit_once(
        sample, _Weighted(sample, np.ones(x.shape[:2])), cross=True, passes=ROBUST_PASSES
    )
    residual = np.abs(sample.predict(first) - y).mean(axis=2)
    sigma = max(ROBUST_FLOOR, 1.4826 * float(np.median(residual)))
    weighted = _Weighted(sample, 1.0 / (1.0 + (residual / (ROBUST_SIGMAS * sigma)) ** 2))
    mixed = _fit_once(sample, weighted, cross=True)
    plain = _fit_once(sample, weighted, cross=False)
    if _psnr(sample.predict(mixed), y) - _psnr(sample.predict(plain), y) > SIMPLER_BY_DB:
        chosen = mixed
    else:
        chosen = plain
    with_fields = _psnr(sample.predict(chosen), y)
    chosen.local = False
    if with_fields - _psnr(sample.predict(chosen), y) > SIMPLER_BY_DB:
        chosen.local = True
    return chosen


#: The curves' smoothness prior, D^T D of the second differences over the 256 entries.
_SECOND = np.diff(np.eye(256), 2, axis=0)
_CURVE_SMOOTHING = _SECOND.T @ _SECOND


class _Sample:
    """The strided pair and what depends only on it: where each pixel falls between curve
    entries, the pooled target, and where each pooled pixel falls between grid nodes."""

    def __init__(self, x: np.ndarray, y: np.ndarray, grid: tuple[int, int]) -> None:
        self.x, self.y, self.grid = x, y, grid
        clipped = np.clip(x, 0, 255)
        low = np.minimum(np.floor(clipped).astype(np.int64), 254)
        self.above = clipped - low  # weight of entry low + 1
        self.below = 1 - self.above
        self.low = low
        # The pair is 8-bit: every x is a whole level, read off one entry (a gather, not
        # two and a blend; the same numbers, as the other entry's weight is 0).
        self.levels = (
            clipped.astype(np.int64) if np.array_equal(clipped, np.floor(clipped)) else None
        )
        # Per channel, flattened (the curve fits read one channel at a time).
        self.flat = [
            (low[..., c].ravel(), self.below[..., c].ravel(), self.above[..., c].ravel())
            for c in range(3)
        ]
        self.pooled_y = _pool(y)
        gy, gx = grid
        h, wd = self.pooled_y.shape[:2]
        fx = np.clip((np.arange(wd) + 0.5) / wd * (gx - 1), 0, gx - 1 - 1e-9)
        fy = np.clip((np.arange(h) + 0.5) / h * (gy - 1), 0, gy - 1 - 1e-9)
        ix, iy = np.floor(fx).astype(int), np.floor(fy).astype(int)
        tx, ty = fx - ix, fy - iy
        # Bilinear weights of the grid nodes, separably: node (a, b) weighs pixel (r, c) by
        # phi_y[r, a] * phi_x[c, b].
        self.phi_y = _hat_weights(iy, ty, gy)
        self.phi_x = _hat_weights(ix, tx, gx)
        self.nodes = gy * gx
        self.smooth = _grid_laplacian(gy, gx)

    def curves(self, luts: np.ndarray) -> np.ndarray:
        """``_curves(luts, x)`` for this sample's x, from the stored positions."""
        out = np.empty(self.x.shape)
        if self.levels is not None:
            for c in range(3):
                np.take(luts[c], self.levels[..., c], out=out[..., c])
            return out
        low, above, below = self.low, self.above, self.below
        for c in range(3):
            lut = luts[c]
            out[..., c] = lut[low[..., c]] * below[..., c] + lut[low[..., c] + 1] * above[..., c]
        return out

    def predict(self, transform: Transform) -> np.ndarray:
        """``transform.predict(x)`` for this sample's x."""
        v = self.curves(transform.curves())
        if transform.cross:
            v = _colour(transform.matrix, v)
        if not transform.local:
            return v
        gain, offset = _fields_at(
            transform.gain, transform.offset, self.x.shape[1], self.x.shape[0]
        )
        return v * gain + offset

    def project(self, d: np.ndarray) -> np.ndarray:
        """Sum over pooled pixels of d times each node's weight: (nodes,)."""
        return (self.phi_y.T @ d @ self.phi_x).ravel()

    def quad(self, d: np.ndarray) -> np.ndarray:
        """Sum over pooled pixels of d times the weights of two nodes: (nodes, nodes).

        The normal equations' blocks, by the grid's separability: first along each row
        (one small matrix product per row), then across rows; a few million multiplications
        instead of a histogram per pair of corners.
        """
        gy, gx = self.grid
        along = (d[:, :, None] * self.phi_x[None]).transpose(0, 2, 1) @ self.phi_x  # (h, gx, gx)
        rows = (self.phi_y[:, :, None] * self.phi_y[:, None, :]).reshape(len(d), gy * gy)
        both = (rows.T @ along.reshape(len(d), gx * gx)).reshape(gy, gy, gx, gx)
        return both.transpose(0, 2, 1, 3).reshape(gy * gx, gy * gx)


class _Weighted:
    """A sample under one set of weights: the curves' normal equations (inverted once; they
    do not depend on the target) and the fields' offset block (the same in every pass)."""

    def __init__(self, sample: _Sample, weights: np.ndarray) -> None:
        self.sample = sample
        self.weights = weights
        w = self.weights_flat = weights.ravel()
        n = 256
        strength = CURVE_SMOOTHNESS * max(float(w.sum()) / n, 1.0)
        self.curve_pull = 1e-6 * strength * np.arange(n)
        self.curve_solvers = []
        for low, below, above in sample.flat:
            wa, wb = w * below, w * above
            diag = np.bincount(low, wa * below, n) + np.bincount(low + 1, wb * above, n)
            off = np.bincount(low, wa * above, n)[: n - 1]
            normal = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
            normal += strength * _CURVE_SMOOTHING
            # A faint pull toward the identity keeps entries no pixel reached defined.
            normal += 1e-6 * strength * np.eye(n)
            self.curve_solvers.append((low, wa, wb, np.linalg.inv(normal)))
        # The fields: the pooled weights, and the offsets' block (the same for every channel
        # and pass).
        ww = _pool(weights[..., None])[..., 0]
        self.field_w = ww
        self.field_ones = sample.quad(ww)
        total, nodes = float(ww.sum()), sample.nodes
        self.field_reg = FIELD_SMOOTHNESS * total / nodes * sample.smooth
        self.field_prior = FIELD_PRIOR * total / nodes

    def curve(self, c: int, target: np.ndarray) -> np.ndarray:
        """``_fit_curve(x[..., c], target, weights)`` from the stored normal equations."""
        low, wa, wb, inverse = self.curve_solvers[c]
        t = target.ravel()
        n = 256
        if self.sample.levels is not None:  # whole levels: all weight on one entry
            rhs = np.bincount(self.sample.levels[..., c].ravel(), self.weights_flat * t, n)
            return inverse @ (rhs + self.curve_pull)
        rhs = np.bincount(low, wa * t, n) + np.bincount(low + 1, wb * t, n) + self.curve_pull
        return inverse @ rhs

    def curves(self, target: np.ndarray) -> np.ndarray:
        return np.stack([self.curve(c, target[..., c]) for c in range(3)])

    def fields(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel gain and offset on the grid, bilinear in between: y ~ g v + o."""
        sample = self.sample
        gy, gx = sample.grid
        nodes = sample.nodes
        pooled = _pool(v)
        gains = np.ones((gy, gx, 3))
        offsets = np.zeros((gy, gx, 3))
        prior = self.field_prior * np.eye(nodes)
        ww = self.field_w
        for c in range(3):
            vc = pooled[..., c] / 255.0
            yc = sample.pooled_y[..., c] / 255.0
            # Unknowns: gains (nodes) then offsets (nodes).
            normal = np.zeros((2 * nodes, 2 * nodes))
            rhs = np.concatenate([sample.project(ww * vc * yc), sample.project(ww * yc)])
            squares = sample.quad(ww * vc * vc)
            cross = sample.quad(ww * vc)
            normal[:nodes, :nodes] = squares + self.field_reg + prior
            normal[:nodes, nodes:] = cross
            normal[nodes:, :nodes] = cross.T
            normal[nodes:, nodes:] = self.field_ones + self.field_reg + prior
            rhs[:nodes] += self.field_prior  # toward gain 1 (offset 0 needs no term)
            solved = np.linalg.solve(normal, rhs)
            gains[..., c] = solved[:nodes].reshape(gy, gx)
            offsets[..., c] = solved[nodes:].reshape(gy, gx) * 255.0
        return gains, offsets


def _fit_once(
    sample: _Sample, weighted: _Weighted, *, cross: bool, passes: int = FIT_PASSES
) -> Transform:
    """Curves (with ``cross``, alternately with the colour matrix), then the fields; then
    the curves again against what the fields leave them to explain, and the fields again.

    The second pass matters: a vignette over a sky of nearly one value correlates value
    with place, and curves fitted alone bend to explain it (steep in places, which at full
    size amplifies the grain); fitted again behind the fields they straighten out.
    """
    identity = np.hstack([np.eye(3), np.zeros((3, 1))])
    x, y, weights = sample.x, sample.y, weighted.weights
    target = y
    gain = offset = None
    for _ in range(passes):
        luts = weighted.curves(target)
        curved = sample.curves(luts)
        matrix = identity
        if cross:
            matrix = _fit_matrix(curved, target, weights)
            wanted = _uncolour(matrix, target)  # the curves again, against the matrix
            luts = weighted.curves(wanted)
            curved = sample.curves(luts)
            matrix = _fit_matrix(curved, target, weights)
        gain, offset = weighted.fields(_colour(matrix, curved))
        field_gain, field_offset = _fields_at(gain, offset, x.shape[1], x.shape[0])
        target = (y - field_offset) / np.maximum(field_gain, 0.05)
    return Transform(luts=luts, matrix=matrix, gain=gain, offset=offset, cross=cross)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(np.rint(a), 0, 255) - b) ** 2))
    return 99.0 if mse <= 1e-10 else 10 * np.log10(255.0**2 / mse)


def grid_shape(width: int, height: int) -> tuple[int, int]:
    """(rows, columns) of spatial nodes: GRID_LONG_SIDE along the long side."""
    long_side = max(width, height)
    across = max(2, round(GRID_LONG_SIDE * min(width, height) / long_side))
    return (GRID_LONG_SIDE, across)[::-1] if width >= height else (GRID_LONG_SIDE, across)


def _fit_matrix(v: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """3 x 4 colour matrix and offset, ridge-pulled toward the identity.

    The ridge is ``MATRIX_RIDGE`` of the channels' own energy: it decides nothing where
    the colours vary (a saturation change is found), and everything where they do not
    (in a grey picture the channels are collinear, and a free matrix would amplify the
    chroma noise of the JPEG into the result).
    """
    flat = v.reshape(-1, 3)
    design = np.hstack([flat, np.ones((flat.shape[0], 1))])
    sw = np.sqrt(w.ravel())[:, None]
    weighted = design * sw
    normal = weighted.T @ weighted
    total = float(w.sum()) or 1.0
    mean = normal[:3, 3] / total
    centred = normal[:3, :3] / total - np.outer(mean, mean)
    ridge = MATRIX_RIDGE * total * max(float(np.trace(centred)) / 3, 1.0)
    normal[:3, :3] += ridge * np.eye(3)
    rhs = weighted.T @ (y.reshape(-1, 3) * sw)
    rhs[:3] += ridge * np.eye(3)
    solved = np.linalg.solve(normal, rhs).T
    identity = np.hstack([np.eye(3), np.zeros((3, 1))])
    return solved if np.all(np.isfinite(solved)) else identity


def _hat_weights(index: np.ndarray, t: np.ndarray, nodes: int) -> np.ndarray:
    """(len(index), nodes): each position's linear weights on its two neighbouring nodes."""
    m = np.zeros((len(index), nodes))
    m[np.arange(len(index)), index] = 1 - t
    m[np.arange(len(index)), index + 1] = t
    return m


def _grid_laplacian(gy: int, gx: int) -> np.ndarray:
    """D^T D of the first differences between neighbouring nodes (a membrane prior)."""
    n = gy * gx
    rows = []
    for yy in range(gy):
        for xx in range(gx):
            here = yy * gx + xx
            for ny, nx in ((yy + 1, xx), (yy, xx + 1)):
                if ny < gy and nx < gx:
                    row = np.zeros(n)
                    row[here], row[ny * gx + nx] = -1, 1
                    rows.append(row)
    d = np.array(rows)
    return d.T @ d


def _pool(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[0] // FIELD_POOL * FIELD_POOL, a.shape[1] // FIELD_POOL * FIELD_POOL
    a = a[:h, :w]
    return a.reshape(h // FIELD_POOL, FIELD_POOL, w // FIELD_POOL, FIELD_POOL, -1).mean(axis=(1, 3))


# --- evaluation helpers -----------------------------------------------------------------


def _curves(luts: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The curves at ``x`` (0-255 floats), read linearly between entries."""
    if x.dtype == np.uint8:
        # Whole levels (the small view, judged in ``plan``): the interpolation lands on the
        # entries themselves, so one lookup gives the same floats, bit for bit, in a quarter
        # of the time (about 35 ms of an image's plan on a 1 MP answer).
        return luts[np.arange(3), x]
    x = np.clip(x, 0, 255)
    low = np.minimum(x.astype(np.int64), 254)
    t = x - low
    out = np.empty(x.shape)
    for c in range(3):
        lut = luts[c]
        out[..., c] = lut[low[..., c]] * (1 - t[..., c]) + lut[low[..., c] + 1] * t[..., c]
    return out


def _colour(matrix: np.ndarray, v: np.ndarray) -> np.ndarray:
    return v @ matrix[:, :3].T + matrix[:, 3]


def _uncolour(matrix: np.ndarray, y: np.ndarray) -> np.ndarray:
    try:
        inverse = np.linalg.inv(matrix[:, :3])
    except np.linalg.LinAlgError:
        return y
    return (y - matrix[:, 3]) @ inverse.T


def _bilinear(grid: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``grid`` (gy, gx, 3) sampled at normalised ``xs`` x ``ys`` (held at the edges).

    Separable: two small interpolation matrices and two matrix products (BLAS), not a
    gather per pixel.
    """
    gy, gx, bands = grid.shape
    wy = _interpolation_matrix(ys, gy)  # (len(ys), gy)
    wx = _interpolation_matrix(xs, gx)  # (len(xs), gx)
    rows = (wy @ grid.reshape(gy, gx * bands)).reshape(len(ys), gx, bands)
    # (h, c, k) @ (k, w): one batched product; ``einsum("hkc,wk->hwc")`` took 15 ms for the
    # lookup's 375 x 250 blocks, most of ``apply``'s set-up.
    return np.ascontiguousarray((rows.transpose(0, 2, 1) @ wx.T).transpose(0, 2, 1))


def _interpolation_matrix(positions: np.ndarray, nodes: int) -> np.ndarray:
    f = np.clip(positions, 0, 1) * (nodes - 1)
    i = np.minimum(np.floor(f).astype(int), nodes - 2)
    return _hat_weights(i, f - i, nodes)


def _fields_at(
    gain: np.ndarray, offset: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    xs = (np.arange(width) + 0.5) / width
    ys = (np.arange(height) + 0.5) / height
    return _bilinear(gain, xs, ys), _bilinear(offset, xs, ys)
