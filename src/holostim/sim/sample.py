"""The sample under the objective: soma-like neurons (or a fluorescent slide) and what they emit.

The neurons are soft discs with a dimmer nucleus, as GCaMP somata look, at seeded random positions that
do not overlap, on a dim smooth background (neuropil, out-of-focus light). Their brightness is a
baseline times ``1 + ΔF/F`` of their calcium (:mod:`holostim.sim.activity`). A uniform fluorescent slide
instead shows the light pattern itself, which is what calibration looks at.

The neurons may lie in several planes (:mod:`holostim.sim.depth`): each is drawn in its own plane, and
the camera sees a plane away from the imaged one blurred by its defocus (a slide is a thin layer in the
imaged plane, so it is always sharp).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse

from holostim.checks import non_negative, positive
from holostim.sim.depth import ImagingDefocus, depth_planes, neuron_depths
from holostim.sim.errors import SimulationConfigError

SAMPLES = ("neurons", "slide")


@dataclass(frozen=True)
class Scene:
    """What lies under the objective, and how bright it is.

    Parameters
    ----------
    sample : {"neurons", "slide"}
        Neurons, or a uniform fluorescent slide (spots always visible) for calibration.
    visible_spots : bool
        Show the light pattern itself in neuron mode too (a fluorescent sample seen at the laser line).
    spot_gain : float
        Photoelectrons per ms per pixel for a pattern carrying the whole laser power in one camera pixel.
    n_neurons : int or None
        Number of neurons; ``None`` uses ``neuron_density``, else 40.
    neuron_density : float or None
        Neurons per 10 000 camera px² (per 100 × 100 px).
    neuron_radius_px : float
        Mean soma radius (radii vary by ±20 %).
    baseline : float
        Mean resting fluorescence at a soma centre, photoelectrons per ms per pixel.
    background : float
        Mean background (neuropil, out-of-focus light), photoelectrons per ms per pixel.
    planes_um : sequence of float or None
        The depths the neurons lie at (µm from the nominal focal plane, positive deeper), each neuron
        in one of them (:mod:`holostim.sim.depth`); ``None``: see ``depth_range_um``.
    depth_range_um : (float, float) or None
        ``[shallowest, deepest]``: ``n_planes`` evenly spaced planes across it. Neither: all at 0.
    n_planes : int
        Planes across ``depth_range_um`` (1 to 16: each distinct depth costs one FFT per frame).
    """

    sample: str = "neurons"
    visible_spots: bool = False
    spot_gain: float = 2.0e4
    n_neurons: int | None = None
    neuron_density: float | None = None
    neuron_radius_px: float = 6.0
    baseline: float = 10.0
    background: float = 2.0
    planes_um: tuple[float, ...] | None = None
    depth_range_um: tuple[float, float] | None = None
    n_planes: int = 5

    def __post_init__(self) -> None:
        if self.sample not in SAMPLES:
            raise SimulationConfigError(
                f"sample={self.sample!r} is not known; use one of {', '.join(SAMPLES)}"
            )
        n = self.n_neurons
        if n is not None:
            try:
                whole = not isinstance(n, bool) and int(n) == n and n >= 0
            except (TypeError, ValueError):
                whole = False
            if not whole:
                raise SimulationConfigError(f"n_neurons={n!r} must be a non-negative integer")
        err = SimulationConfigError
        set_ = object.__setattr__  # frozen: store the checked, converted values once
        set_(self, "visible_spots", bool(self.visible_spots))
        set_(self, "spot_gain", non_negative(self.spot_gain, "spot_gain", err))
        if self.neuron_density is not None:
            set_(self, "neuron_density", non_negative(self.neuron_density, "neuron_density", err))
        set_(self, "neuron_radius_px", positive(self.neuron_radius_px, "neuron_radius_px", err))
        set_(self, "baseline", non_negative(self.baseline, "baseline", err))
        set_(self, "background", non_negative(self.background, "background", err))
        if self.planes_um is not None:
            if isinstance(self.planes_um, (str, bytes)) or not hasattr(self.planes_um, "__iter__"):
                raise err(f"planes_um={self.planes_um!r} must be a list of depths in µm")
            set_(self, "planes_um", tuple(self.planes_um))
        depth_planes(self.planes_um, self.depth_range_um, self.n_planes)  # checks them, one message each

    @property
    def planes(self) -> tuple[float, ...]:
        """The distinct depths the neurons lie at (µm, sorted); ``(0.0,)`` for a flat sample."""
        return depth_planes(self.planes_um, self.depth_range_um, self.n_planes)

    def count(self, shape: tuple[int, int]) -> int:
        """How many neurons a ``(height, width)`` camera field holds."""
        if self.n_neurons is not None:
            return int(self.n_neurons)
        if self.neuron_density is None:
            return 40
        return int(round(self.neuron_density * shape[0] * shape[1] / 1e4))


class Sample:
    """The neurons of one scene on one camera field: positions, footprints, background; built once.

    Seeded by ``[seed, 0]``, so the same seed gives the same sample whatever else the rig does.
    """

    def __init__(self, scene: Scene, shape: tuple[int, int], seed: int) -> None:
        self.scene = scene
        self.shape = shape
        h, w = shape
        n_neurons = scene.count(shape)
        r_mean = scene.neuron_radius_px
        rng = np.random.default_rng([int(seed), 0])
        margin = 1.5 * r_mean
        min_dist = 2.2 * r_mean
        pos: list[tuple[float, float]] = []
        tries = 0
        while len(pos) < n_neurons and tries < 200 * max(int(n_neurons), 1):
            tries += 1
            p = (rng.uniform(margin, w - 1 - margin), rng.uniform(margin, h - 1 - margin))
            if all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 >= min_dist**2 for q in pos):
                pos.append(p)
        if len(pos) < n_neurons:
            raise SimulationConfigError(
                f"cannot place {n_neurons} neurons of radius {r_mean:g} px without overlap on a {h}×{w} "
                f"camera (fitted {len(pos)}); lower n_neurons/neuron_density or neuron_radius_px"
            )
        self.n_neurons = len(pos)
        self.positions = np.asarray(pos, dtype=np.float64).reshape(-1, 2)
        self.radii = r_mean * rng.uniform(0.8, 1.2, self.n_neurons)
        self.baseline = scene.baseline * rng.lognormal(0.0, 0.25, self.n_neurons)
        self._footprints, self._soma = _footprints(self.positions, self.radii, shape)
        # Dim smooth background (neuropil, out-of-focus light), mean `background`.
        field = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma=max(h, w) / 16, mode="wrap")
        field /= field.std() or 1.0
        self._background = (scene.background * np.clip(1.0 + 0.3 * field, 0.2, None)).astype(np.float32)
        self._slide = np.full((h, w), 0.3 * scene.background, np.float32)
        # Depths last, from a stream of their own: the layout above is that of a flat sample of this seed.
        self.depths_um = neuron_depths(scene.planes, self.n_neurons, seed)
        self.planes = tuple(float(z) for z in np.unique(self.depths_um)) if self.n_neurons else (0.0,)
        self._in_plane = [np.flatnonzero(self.depths_um == z) for z in self.planes]
        self._plane_footprints = [self._footprints[:, idx] for idx in self._in_plane]
        self._plane_soma = [self._soma[idx] for idx in self._in_plane]
        self._seen: dict[tuple[int, float], sparse.csr_matrix] = {}  # (plane, σ) → blurred footprints

    def _seen_footprints(self, plane: int, sigma: float) -> sparse.csr_matrix:
        """The footprints of one plane as the camera sees them, blurred by ``sigma`` px (cached).

        The blur is linear, so blurring each footprint once per imaged plane (σ rounded to 0.01 px) and
        summing them per frame is the blurred image of the plane: a frame costs one sparse product per
        plane, not a full-frame filter. Under 0.1 px nothing is blurred (a flat sample in focus renders
        exactly as a 2-D one).
        """
        sigma = round(float(sigma), 2)
        if sigma < 0.1:
            return self._plane_footprints[plane]
        key = (plane, sigma)
        hit = self._seen.get(key)
        if hit is None:
            while len(self._seen) >= 4 * len(self.planes):  # a focus swept through many planes
                self._seen.pop(next(iter(self._seen)))
            hit = self._seen[key] = _blur_columns(self._plane_footprints[plane], self.shape, sigma)
        return hit

    def drive(self, light: np.ndarray) -> np.ndarray:
        """Fraction of the laser power on each soma, for a light image in camera pixels (all in it)."""
        return np.asarray(self._soma @ light.ravel(), dtype=np.float64)

    def drive_in_planes(self, light_at: dict[float, np.ndarray]) -> np.ndarray:
        """Fraction of the laser power on each soma, each from the light at its own depth (``{z: image}``)."""
        if len(self.planes) == 1:
            return self.drive(light_at[self.planes[0]])
        out = np.zeros(self.n_neurons)
        for z, idx, soma in zip(self.planes, self._in_plane, self._plane_soma, strict=True):
            out[idx] = soma @ light_at[z].ravel()
        return out

    def emission(self, calcium: np.ndarray, light: np.ndarray, focus_um: float = 0.0,
                 imaging: ImagingDefocus | None = None) -> np.ndarray:
        """Noiseless photoelectrons per ms per pixel, given each neuron's ΔF/F and the light image.

        ``light`` is the light in the imaged plane ``focus_um``; each neuron plane is blurred by its
        distance from that plane (``imaging``; ``None``: every plane sharp; see
        :meth:`_seen_footprints`).
        """
        scene = self.scene
        if scene.sample == "slide":
            rate = self._slide.copy()
            rate += scene.spot_gain * light
            return rate
        rate = self._background.copy()
        if self.n_neurons:
            f = (self.baseline * (1.0 + calcium)).astype(np.float32)
            for k, (z, idx) in enumerate(zip(self.planes, self._in_plane, strict=True)):
                sigma = 0.0 if imaging is None else imaging.sigma_px(z - float(focus_um))
                rate += (self._seen_footprints(k, sigma) @ f[idx]).reshape(self.shape)
        if scene.visible_spots:
            rate += scene.spot_gain * light
        return rate


def _blur_columns(matrix: sparse.csr_matrix, shape: tuple[int, int], sigma: float) -> sparse.csr_matrix:
    """Each column's image (a neuron's footprint) blurred by a Gaussian of ``sigma`` px, as a sparse matrix.

    Each footprint is blurred on its own patch, padded by the kernel's reach (3.5 σ) and cropped to the
    frame: exactly the full-frame ``gaussian_filter(..., mode="constant", truncate=3.5)`` of it (the
    light blurred past the edge leaves the frame), at the cost of the small patches. Values under 10⁻⁶
    of a footprint's peak are dropped.
    """
    h, w = shape
    reach = int(math.ceil(3.5 * sigma)) + 1
    csc = matrix.tocsc()
    rows, cols, vals = [], [], []
    for j in range(csc.shape[1]):
        idx = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        v = csc.data[csc.indptr[j]:csc.indptr[j + 1]]
        if not len(idx):
            continue
        yy, xx = np.divmod(idx, w)
        y0, x0 = max(0, int(yy.min()) - reach), max(0, int(xx.min()) - reach)
        y1, x1 = min(h, int(yy.max()) + reach + 1), min(w, int(xx.max()) + reach + 1)
        patch = np.zeros((y1 - y0, x1 - x0), np.float32)
        patch[yy - y0, xx - x0] = v
        patch = ndimage.gaussian_filter(patch, sigma, mode="constant", truncate=3.5)
        keep = patch > 1e-6 * float(v.max())
        py, px = np.nonzero(keep)
        rows.append((py + y0) * w + (px + x0))
        cols.append(np.full(len(py), j))
        vals.append(patch[keep])
    if not rows:
        return matrix
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=matrix.shape)


def _footprints(
    positions: np.ndarray, radii: np.ndarray, shape: tuple[int, int]
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Each neuron's image (one sparse column) and its soma mask (one sparse row)."""
    h, w = shape
    rows, cols, vals, srows, scols = [], [], [], [], []
    for i, ((x, y), r) in enumerate(zip(positions, radii, strict=True)):
        x0, x1 = int(max(0, math.floor(x - r - 3))), int(min(w, math.ceil(x + r + 4)))
        y0, y1 = int(max(0, math.floor(y - r - 3))), int(min(h, math.ceil(y + r + 4)))
        yy, xx = np.mgrid[y0:y1, x0:x1]
        d = np.hypot(xx - x, yy - y)
        val = 1.0 / (1.0 + np.exp((d - r) / 0.7))
        val *= 1.0 - 0.35 * np.exp(-((d / (0.45 * r)) ** 2))
        keep = val > 0.01
        idx = (yy * w + xx)[keep]
        rows.append(idx)
        cols.append(np.full(idx.size, i))
        vals.append(val[keep])
        soma = d <= r
        srows.append((yy * w + xx)[soma])
        scols.append(np.full(int(soma.sum()), i))
    n = len(positions)
    cat = (lambda a, dt: np.concatenate(a).astype(dt)) if n else (lambda a, dt: np.empty(0, dt))
    footprints = sparse.csr_matrix(
        (cat(vals, np.float32), (cat(rows, np.int64), cat(cols, np.int64))), shape=(h * w, n)
    )
    soma = sparse.csr_matrix(
        (np.ones(sum(len(s) for s in srows), np.float32), (cat(srows, np.int64), cat(scols, np.int64))),
        shape=(h * w, n),
    ).T.tocsr()
    return footprints, soma
