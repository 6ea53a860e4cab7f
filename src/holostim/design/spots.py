"""The spots of a design and where their power is counted in the focal planes.

A spot's power is the focal intensity integrated over a **disc of radius** ``spot_radius_px`` Fourier
pixels (the engine's far-field pixel) around its exact position, in its own focal plane: every focal
sample whose centre lies within the radius counts, times the sample's area. A radius of about one pixel
holds the core of a diffraction-limited spot; the engine's metrics use the single nearest pixel, which
a sub-pixel position or a changed spot shape (crosstalk, aberrations) would bias. Spots closer than
two radii in one plane would share samples, and are refused.

*Stray light* is what lands inside the first-order window (the engine's ``ny x nx`` far field around
the zero order, the region an iris passes) but outside every spot's disc, in any plane: ghost spots and
the zero order. Light beyond the window (higher orders) and light absorbed by the dead border are lost,
not stray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from holostim.design.errors import DesignError
from holostim.holography.targets import SpotTarget

__all__ = ["DesignTarget", "SpotDiscs"]


@dataclass(frozen=True, eq=False)
class SpotDiscs:
    """Focal samples of every spot's disc, and the stray-light samples, on one focal grid.

    Attributes
    ----------
    plane, flat, spot : int arrays (S,)
        For each counted sample: its plane, its flat index in the ``(Ny, Nx)`` plane, the spot it counts for.
    n_spots : int
    stray : float array (Ny, Nx)
        1 on the window's samples outside every disc, else 0.
    """

    plane: np.ndarray
    flat: np.ndarray
    spot: np.ndarray
    n_spots: int
    stray: np.ndarray


@dataclass(frozen=True, eq=False)
class DesignTarget:
    """Spots to design for: ``xy`` (N, 2) Fourier px of the SLM grid, ``weights`` (sum 1), depths ``z``."""

    target: SpotTarget

    @classmethod
    def from_pixels(cls, xy: Any, shape: tuple[int, int], weights: Any = None, z: Any = None) -> DesignTarget:
        """Checked like an engine target (:meth:`~holostim.holography.SpotTarget.from_pixels`)."""
        return cls(SpotTarget.from_pixels(xy, shape=shape, weights=weights, z=z))

    @property
    def xy(self) -> np.ndarray:
        """Positions ``(x, y)`` in Fourier pixels (zero order at ``N//2``)."""
        return self.target.xy

    @property
    def weights(self) -> np.ndarray:
        """Relative target powers, summing to 1."""
        return self.target.weights

    @property
    def shape(self) -> tuple[int, int]:
        """The SLM grid the positions refer to."""
        return self.target.shape

    @property
    def depths(self) -> tuple[float, ...]:
        """The distinct focal planes (µm), sorted."""
        return tuple(sorted(set(np.asarray(self.target.z, dtype=np.float64).tolist())))

    @property
    def plane_of_spot(self) -> np.ndarray:
        """Each spot's index into :attr:`depths`."""
        d = self.depths
        return np.array([d.index(float(z)) for z in self.target.z], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def discs(self, grid_shape: tuple[int, int], padding: int, radius_px: float) -> SpotDiscs:
        """The disc samples on a focal grid of ``grid_shape`` sampled at ``1/padding`` Fourier px.

        Raises
        ------
        DesignError
            Two spots of one plane closer than ``2 radius_px`` (their discs would share samples), or a
            disc holding no focal sample.
        """
        gy, gx = (int(grid_shape[0]), int(grid_shape[1]))
        my, mx = self.shape
        p, r = int(padding), float(radius_px)
        planes = self.plane_of_spot
        for k in set(planes.tolist()):
            sel = np.flatnonzero(planes == k)
            pts = self.xy[sel]
            d = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
            np.fill_diagonal(d, np.inf)
            if d.size and d.min() < 2 * r:
                i, j = np.unravel_index(int(np.argmin(d)), d.shape)
                a, b = int(sel[i]), int(sel[j])
                raise DesignError(
                    f"spots {a} ({self.xy[a][0]:g}, {self.xy[a][1]:g}) and {b} ({self.xy[b][0]:g}, "
                    f"{self.xy[b][1]:g}) are {d[i, j]:.2f} px apart, closer than two spot radii "
                    f"(far_field.spot_radius_px {r:g}): their power could not be told apart; move them "
                    "apart or lower the radius")
        # Fourier-px coordinate of each focal sample: X = mx//2 + (ix - gx//2) / p
        fx = mx // 2 + (np.arange(gx) - gx // 2) / p
        fy = my // 2 + (np.arange(gy) - gy // 2) / p
        plane_l, flat_l, spot_l = [], [], []
        lit = np.zeros((gy, gx), dtype=bool)
        for i, ((x, y), k) in enumerate(zip(self.xy, planes, strict=True)):
            ix = np.flatnonzero(np.abs(fx - x) <= r)
            iy = np.flatnonzero(np.abs(fy - y) <= r)
            yy, xx = np.meshgrid(iy, ix, indexing="ij")
            inside = (fx[xx] - x) ** 2 + (fy[yy] - y) ** 2 <= r * r
            yy, xx = yy[inside], xx[inside]
            if yy.size == 0:
                raise DesignError(f"spot {i} at ({x:g}, {y:g}) has no focal sample within "
                                  f"{r:g} px; raise far_field.spot_radius_px or the padding")
            lit[yy, xx] = True
            flat_l.append(yy * gx + xx)
            spot_l.append(np.full(yy.size, i))
            plane_l.append(np.full(yy.size, int(k)))
        window = ((fx[None, :] >= -0.5) & (fx[None, :] < mx - 0.5) & (fy[:, None] >= -0.5)
                  & (fy[:, None] < my - 0.5))
        return SpotDiscs(plane=np.concatenate(plane_l), flat=np.concatenate(flat_l),
                         spot=np.concatenate(spot_l), n_spots=len(self),
                         stray=(window & ~lit).astype(np.float64))
