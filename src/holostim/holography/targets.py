"""What the hologram should produce in the Fourier (sample) plane: spots or an intensity image.

Positions are Fourier-plane pixel positions ``(x, y)`` on the centred far-field grid, so ``(N//2, N//2)``
is the zero order (every grid is centred: index ``N//2`` is the optical axis). A target is independent of
the engine that computes it; the engine maps it onto its computational grid (see
:meth:`SpotTarget.lit_pixels`).

Sub-pixel positions: the discrete far field has one sample per pixel of the computational grid, so a
spot lands on the *nearest* grid pixel (round half up). To place spots more finely, give the engine
computational padding ``p``: its far-field grid is ``p`` times finer, a position ``x`` (in SLM-grid
pixels) lands at ``p * (x - N//2)`` pixels from the zero order, and the placement error drops from
half a pixel to ``1 / (2 p)`` pixels.

Depth: a spot also has a depth ``z`` in sample-plane µm from the imaging focal plane (positive deeper,
away from the objective; 0 by default), given as a third column of ``from_pixels``' positions or as its
``z`` argument. An engine turns it into an SLM-plane defocus with its
:class:`~holostim.holography.defocus.DefocusModel` (wavelength, focal length, magnification, NA, medium
index). A target with any ``z != 0`` has no pixels on a 2-D far-field grid and is computed by the
direct sum (:mod:`.direct_sum`), which also places ``(x, y)`` exactly, without rounding.

Duplicates: two spots at the same position are an error in :meth:`SpotTarget.from_pixels`. Two distinct
spots that land on the same pixel of the engine's computational grid would compete for one sample; the
engine refuses that (:class:`TargetError` naming both, suggesting padding) rather than merging them with
a guessed weight. With padding ``p`` they only collide if they are closer than about ``1 / p`` pixel.

Weights are relative (they are normalised to sum 1) and their range is bounded: the largest may be at
most :data:`MAX_WEIGHT_RATIO` times the smallest (each within 10⁻³..10³ of a common level). Beyond it
the weakest spot's share of the light vanishes in single precision, and the weighted update divides
by it (weights 1e-300 and 1 gave a ZeroDivisionError); 1.7e308 overflowed the sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from holostim.checks import shape_pair
from holostim.errors import HolostimError

__all__ = ["MAX_WEIGHT_RATIO", "ImageTarget", "SpotTarget", "TargetError", "siemens_star", "weight_problem"]

MAX_WEIGHT_RATIO = 1e6
"""The largest ratio between two spot weights of one target (see the module docstring)."""


def weight_problem(weights: Any) -> str | None:
    """Why these spot weights cannot be one target's (not finite, ≤ 0, too wide a range), or ``None``."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        return f"spot {i} has weight {w[i]:g}; weights must be finite and > 0 (drop a spot to switch it off)"
    if w.size and w.max() / w.min() > MAX_WEIGHT_RATIO:
        i, j = int(np.argmax(w)), int(np.argmin(w))
        return (f"spot weights {w[i]:g} (spot {i}) and {w[j]:g} (spot {j}) differ by more than "
                f"{MAX_WEIGHT_RATIO:g}×; weights are relative: keep each within 1e-3..1e3 of the others' "
                "level")
    return None


class TargetError(HolostimError, ValueError):
    """A target that cannot be computed: spots off the grid, bad weights, empty, bad shape."""


def _round_half_up(v: np.ndarray) -> np.ndarray:
    return np.floor(v + 0.5).astype(np.int64)


def _depths(pts: np.ndarray, z: Any) -> np.ndarray:
    """The per-spot depths of ``from_pixels``: the third column of ``pts``, ``z``, or zeros."""
    n = pts.shape[0]
    if z is None:
        return pts[:, 2].copy() if pts.shape[1] == 3 else np.zeros(n)
    if pts.shape[1] == 3:
        raise TargetError("spot depths given twice: (N, 3) positions and z; give one of them")
    try:
        zs = np.asarray(z, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise TargetError(f"spot depths z {z!r} are not numbers (µm)") from exc
    if zs.size == 1 and n > 1:
        zs = np.full(n, zs[0])
    if zs.shape[0] != n:
        raise TargetError(f"{zs.shape[0]} depths for {n} spots; give one z (µm) per spot")
    return zs


@dataclass(frozen=True, eq=False)
class SpotTarget:
    """Point-like spots in the Fourier plane with relative intensities.

    Attributes
    ----------
    xy : ndarray, shape (N, 2), float64
        Spot positions ``(x, y)`` in Fourier-plane pixels of ``shape`` (centred: ``N//2`` is the zero
        order). May be fractional; see the module docstring for what the engine does with them.
    weights : ndarray, shape (N,), float64
        Relative target intensities, normalised to sum 1.
    shape : (ny, nx)
        The SLM grid the positions refer to.
    z : ndarray, shape (N,), float64
        Each spot's depth in sample-plane µm relative to the imaging focal plane (positive: deeper,
        away from the objective); all 0 for a 2-D target. An engine turns it into an SLM-plane defocus
        with its :class:`~holostim.holography.defocus.DefocusModel`.
    """

    xy: np.ndarray
    weights: np.ndarray
    shape: tuple[int, int]
    z: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.z is None:
            object.__setattr__(self, "z", np.zeros(self.xy.shape[0]))

    @property
    def is_3d(self) -> bool:
        """Whether any spot is off the focal plane (such a target needs the direct-sum engine)."""
        return bool(np.any(self.z != 0))

    @property
    def xyz(self) -> np.ndarray:
        """Positions ``(x, y, z)``: Fourier pixels and µm of depth, shape (N, 3)."""
        return np.column_stack([self.xy, self.z])

    @classmethod
    def from_pixels(cls, xy: Any, shape: Any, weights: Any = None, z: Any = None) -> SpotTarget:
        """Spots at Fourier-plane pixel positions ``xy`` (N, 2) = (x, y) on a grid of ``shape`` (ny, nx).

        Depth: ``xy`` may be (N, 3) = (x, y, z), or ``z`` given as N depths (sample µm from the focal
        plane, positive deeper); not both. Without either every spot is at z = 0.

        Raises
        ------
        TargetError
            For an empty or malformed ``xy``, non-finite positions, positions outside
            ``0 <= x <= nx - 1``, ``0 <= y <= ny - 1``, two spots at the same (x, y, z), or weights that
            are not finite and positive (one per spot).
        """
        ny, nx = shape_pair(shape, "shape", TargetError)
        try:
            pts = np.asarray(xy, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TargetError(
                f"spot positions {xy!r} are not numbers: give an (N, 2) array of (x, y)"
            ) from exc
        if pts.ndim == 1 and pts.size in (2, 3):
            pts = pts[None, :]
        if pts.ndim != 2 or pts.shape[1] not in (2, 3):
            raise TargetError(f"spot positions have shape {pts.shape}; need (N, 2) columns (x, y) "
                              "or (N, 3) columns (x, y, z)")
        zs = _depths(pts, z)
        pts = pts[:, :2]
        if pts.shape[0] == 0:
            raise TargetError("the target has no spots; give at least one (x, y)")
        bad_z = ~np.isfinite(zs)
        if bad_z.any():
            i = int(np.flatnonzero(bad_z)[0])
            raise TargetError(f"spot {i} has a non-finite depth z = {zs[i]:g} µm; depths must be finite")
        bad = ~np.isfinite(pts).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise TargetError(
                f"spot {i} has a non-finite position ({pts[i, 0]:g}, {pts[i, 1]:g}); positions must be finite"
            )
        out = (pts[:, 0] < 0) | (pts[:, 0] > nx - 1) | (pts[:, 1] < 0) | (pts[:, 1] > ny - 1)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise TargetError(
                f"spot {i} at (x, y) = ({pts[i, 0]:g}, {pts[i, 1]:g}) is outside the {ny}x{nx} grid; "
                f"allowed 0 <= x <= {nx - 1}, 0 <= y <= {ny - 1} (zero order at ({nx // 2}, {ny // 2}))"
            )
        if weights is None:
            w = np.ones(pts.shape[0])
        else:
            try:
                w = np.asarray(weights, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError) as exc:
                raise TargetError(f"spot weights {weights!r} are not numbers") from exc
            if w.shape[0] != pts.shape[0]:
                raise TargetError(f"{w.shape[0]} weights for {pts.shape[0]} spots; give one weight per spot")
            problem = weight_problem(w)
            if problem is not None:
                raise TargetError(problem)
            w = w / w.max()  # relative: 1.7e308 must not overflow the sum below
        full = np.column_stack([pts, zs])
        _, first, counts = np.unique(full, axis=0, return_index=True, return_counts=True)
        if (counts > 1).any():
            i = int(first[np.flatnonzero(counts > 1)[0]])
            j = int(np.flatnonzero((full == full[i]).all(axis=1))[1])
            where = f"(x, y) = ({pts[i, 0]:g}, {pts[i, 1]:g})" + (f", z = {zs[i]:g} µm" if zs[i] else "")
            raise TargetError(f"spots {i} and {j} are both at {where}; give each position once "
                              "(add their weights)")
        # Spots that are distinct but round to the same pixel are refused by the engine, on its own
        # (possibly padded, finer) grid: see lit_pixels.
        return cls(pts.copy(), w / w.sum(), (ny, nx), zs.copy())

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def lit_pixels(self, grid_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Centred pixel indices ``(iy, ix)`` of the spots on a computational grid (possibly padded).

        The grid ``grid_shape`` must be an integer multiple ``p`` of :attr:`shape`; a spot at ``x``
        lands on ``round(Nx//2 + p (x - nx//2))`` (round half up), likewise for ``y``. Only for 2-D
        targets: a far-field grid has no depth (3-D targets go to the direct-sum engine).
        """
        if self.is_3d:
            raise TargetError("a 3-D target (spots with z != 0) has no pixels on a 2-D far-field grid; "
                              "compute it with the direct-sum engine (spot_algorithm 'direct' or 'auto')")
        ny, nx = self.shape
        big_y, big_x = grid_shape
        py, px = big_y // ny, big_x // nx
        if big_y != py * ny or big_x != px * nx or py != px or py < 1:
            raise TargetError(f"grid {grid_shape} is not an integer multiple of the target grid {self.shape}")
        iy = _round_half_up(big_y // 2 + py * (self.xy[:, 1] - ny // 2))
        ix = _round_half_up(big_x // 2 + px * (self.xy[:, 0] - nx // 2))
        iy = np.clip(iy, 0, big_y - 1)
        ix = np.clip(ix, 0, big_x - 1)
        flat = iy * big_x + ix
        order = np.argsort(flat, kind="stable")
        dup = np.flatnonzero(np.diff(flat[order]) == 0)
        if dup.size:
            i, j = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
            raise TargetError(
                f"spots {i} at ({self.xy[i, 0]:g}, {self.xy[i, 1]:g}) and {j} at ({self.xy[j, 0]:g}, "
                f"{self.xy[j, 1]:g}) fall on the same pixel "
                f"(x, y) = ({ix[i]}, {iy[i]}) of the {big_y}x{big_x} computational grid; merge them "
                "(add their weights) or use computational padding for finer placement"
            )
        return iy, ix


@dataclass(frozen=True, eq=False)
class ImageTarget:
    """An extended intensity pattern on the centred Fourier-plane grid (pixels with 0 are dark).

    Parameters
    ----------
    intensity : array_like, 2-D
        Non-negative, finite target intensity; any scale (it is normalised). Its shape is the SLM grid
        or the engine's padded grid; on a padded grid an SLM-grid image is upsampled by nearest
        neighbour about the zero order.
    """

    intensity: np.ndarray

    def __init__(self, intensity: Any):
        try:
            img = np.asarray(intensity, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TargetError("image target intensity is not a numeric array") from exc
        if img.ndim != 2 or img.size == 0:
            raise TargetError(f"image target has shape {img.shape}; need a non-empty 2-D (ny, nx) array")
        if not np.isfinite(img).all():
            raise TargetError("image target contains NaN or infinite values; intensities must be finite")
        if (img < 0).any():
            raise TargetError(f"image target has negative intensity {img.min():g}; intensities must be >= 0")
        total = img.sum()
        if total <= 0:
            raise TargetError("image target is all zero (empty target); light at least one pixel")
        object.__setattr__(self, "intensity", img / total)

    @property
    def shape(self) -> tuple[int, int]:
        """The grid the image is defined on, (ny, nx)."""
        return (int(self.intensity.shape[0]), int(self.intensity.shape[1]))

    def on_grid(self, grid_shape: tuple[int, int]) -> np.ndarray:
        """The normalised intensity resampled (nearest neighbour, centred) onto ``grid_shape``."""
        if tuple(grid_shape) == self.shape:
            return self.intensity
        ny, nx = self.shape
        big_y, big_x = grid_shape
        p = big_y // ny
        if big_y != p * ny or big_x != p * nx or p < 1:
            raise TargetError(
                f"image target of shape {self.shape} does not fit the {big_y}x{big_x} computational grid; "
                "give it on the SLM grid or on the padded grid"
            )
        sy = _round_half_up((np.arange(big_y) - big_y // 2) / p) + ny // 2
        sx = _round_half_up((np.arange(big_x) - big_x // 2) / p) + nx // 2
        oky = (sy >= 0) & (sy < ny)
        okx = (sx >= 0) & (sx < nx)
        out = np.zeros((big_y, big_x))
        out[np.ix_(oky, okx)] = self.intensity[np.ix_(sy[oky], sx[okx])]
        return out / out.sum()

    def lit_pixels(self, grid_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices ``(iy, ix)`` of the lit pixels on ``grid_shape`` and their weights (sum 1)."""
        img = self.on_grid(grid_shape)
        iy, ix = np.nonzero(img)
        return iy, ix, img[iy, ix] / img[iy, ix].sum()


def siemens_star(shape: tuple[int, int], spokes: int = 36, radius: float = 200.0) -> ImageTarget:
    """The Siemens star resolution target: ``spokes`` bright sectors of radius ``radius`` px.

    Centred on the zero order; the disc is cut into ``2 * spokes`` equal wedges, alternately lit and
    dark (36 spokes = 36 bright and 36 dark wedges). The centre pixel (the zero order) is left dark, as
    a stimulation pattern would leave it.
    """
    ny, nx = shape_pair(shape, "shape", TargetError)
    y, x = np.mgrid[0:ny, 0:nx]
    dy, dx = y - ny // 2, x - nx // 2
    r = np.hypot(dx, dy)
    theta = np.mod(np.arctan2(dy, dx), 2 * np.pi)
    sector = np.floor(theta * (2 * spokes) / (2 * np.pi)).astype(int)
    img = ((sector % 2 == 0) & (r <= radius) & (r > 0)).astype(float)
    return ImageTarget(img)
