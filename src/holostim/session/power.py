"""Power per spot as the sample gets it: the session's diffraction-efficiency model, in one object.

The engine's far field assumes ideal point pixels, so a spot far from the zero order would get less
than its share (the pixel envelope, :mod:`holostim.calibration.power_map`). This object gives the session
the efficiency at each spot — the envelope of ``slm.fill_factor`` times the measured map of the
calibration, if it has one — for two uses that must agree:

- **compensation** (``engine.power_compensation``): the weights the engine is asked for are the user's
  weights divided by each spot's efficiency, so the delivered powers follow the user's weights;
- **prediction**: the gate's far field is weighted by the same efficiency on every Fourier pixel, so the
  predicted mW per spot (the GUI's column, the log's ``predicted_power_mw``, the per-spot limit) is the
  light that reaches the sample — including the extra light compensation sends to far spots.

The zero order (and so the envelope's centre) follows the SLM's blaze.

:func:`spot_power_fractions` gives the gate each spot's light at its own sub-pixel position and depth:
the Fourier-plane grid sees only part of a spot that falls between its pixels, and a spot focused at
another depth is spread out there, so judging by the grid alone would under-predict exactly those spots.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from holostim.calibration.power_map import efficiency, pixel_envelope

if TYPE_CHECKING:
    from holostim.calibration import Calibration
    from holostim.geometry import SLMGeometry

__all__ = ["PowerModel", "spot_power_fractions"]


def spot_power_fractions(phase: np.ndarray, spots: np.ndarray, amplitude: np.ndarray | None,
                         defocus: object, efficiency_at: np.ndarray) -> np.ndarray:
    """The share of the light each spot ``(x, y, z)`` gets, from the phase shown (for the gate).

    The SLM field ``A·exp(i φ)`` projected on each spot's own wave (tilt and defocus: the direct sum's
    :class:`~holostim.holography.spot_basis.SpotBasis`, exact at sub-pixel positions and any depth) is
    the field at that spot's focus. A spot that is one focused copy of the beam carries
    ``|g|² · Nx·Ny / (Σ A)²`` of the light (1 for a single perfect spot, whatever the beam profile),
    times the pixel envelope ``efficiency_at`` of its position. Spots without a depth model (``z`` all 0
    and no ``defocus``) still get their sub-pixel projection.
    """
    from holostim.backend import get_backend
    from holostim.holography.spot_basis import SpotBasis
    from holostim.holography.targets import SpotTarget

    ph = np.asarray(phase, dtype=np.float32)
    ny, nx = ph.shape
    spots = np.asarray(spots, dtype=np.float64).reshape(-1, 3)
    if not len(spots):
        return np.zeros(0)
    z = spots[:, 2]
    if defocus is None:
        z = np.zeros(len(spots))  # no optics to place a depth: the gate's grid and this agree at z = 0
    target = SpotTarget.from_pixels(spots[:, :2], shape=(ny, nx), z=z)
    basis = SpotBasis(target, get_backend("numpy", "single"), defocus if np.any(z) else None)
    # A·e^{iφ} straight into single precision (the basis is single): a complex128 exp of a 1024² frame
    # cost the gate ~20 ms per frame, as much as the projection itself.
    u = np.empty(ph.shape, np.complex64)
    np.cos(ph, out=u.real)
    np.sin(ph, out=u.imag)
    if amplitude is None:
        total = float(nx * ny)
    else:
        amp = np.asarray(amplitude, dtype=np.float32)
        u *= amp
        total = float(np.sum(amp, dtype=np.float64))
    g = np.asarray(basis.values(u))
    share = np.abs(g) ** 2 * (nx * ny) / total**2
    return share * np.asarray(efficiency_at, dtype=np.float64).reshape(-1)


class PowerModel:
    """The efficiency of a session's rig at any engine Fourier pixel (cached per grid).

    Parameters
    ----------
    fill_factor : the session's ``slm.fill_factor``.
    compensate : the session's ``engine.power_compensation``.
    geometry : ``geometry()`` → the session's :class:`~holostim.geometry.SLMGeometry` now (its zero order).
    calibration : ``calibration()`` → the session's calibration now (its ``power_map``, if any).
    """

    def __init__(self, fill_factor: float, compensate: bool, geometry: Callable[[], SLMGeometry],
                 calibration: Callable[[], Calibration | None]):
        self.fill_factor = float(fill_factor)
        self.compensate = bool(compensate)
        self._geometry = geometry
        self._calibration = calibration
        self._grid_key: object = None
        self._grid: np.ndarray | None = None

    def _state(self) -> tuple[tuple[int, int], tuple[float, float], object]:
        geo = self._geometry()
        cal = self._calibration()
        pm = getattr(cal, "power_map", None)
        zx, zy = (float(v) for v in geo.zero_order_slm)
        return tuple(geo.shape), (zx, zy), pm  # type: ignore[return-value]

    def at(self, xy_slm: np.ndarray) -> np.ndarray:
        """Efficiency ``(N,)`` at engine Fourier pixels ``(N, 2)`` (1 at the zero order)."""
        shape, zero, pm = self._state()
        return efficiency(xy_slm, shape, self.fill_factor, zero_order=zero, power_map=pm)

    def engine_weights(self, xy_slm: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(weights for the engine, efficiency at each spot)``: divided by it when compensating."""
        eff = self.at(xy_slm)
        return (np.asarray(weights, np.float64) / eff if self.compensate else np.asarray(weights)), eff

    def grid(self, big_shape: tuple[int, int], padding: int) -> np.ndarray:
        """The efficiency on the gate's far-field grid (``padding`` times the SLM's; float32, cached)."""
        shape, zero, pm = self._state()
        key = (tuple(big_shape), int(padding), shape, zero, id(pm), pm)
        if key != self._grid_key or self._grid is None:
            by, bx = big_shape
            p = int(padding)
            # grid pixel (i, j) is SLM Fourier pixel (N//2 + (j - bx//2)/p, N//2 + (i - by//2)/p)
            xn = (shape[1] // 2 + (np.arange(bx) - bx // 2) / p - zero[0]) / shape[1]
            yn = (shape[0] // 2 + (np.arange(by) - by // 2) / p - zero[1]) / shape[0]
            # the envelope is separable: an outer product of its two axes; the map broadcasts
            f = self.fill_factor
            eff = pixel_envelope(0 * yn, yn, f)[:, None] * pixel_envelope(xn, 0 * xn, f)[None, :]
            if pm is not None:
                eff = eff * pm(xn[None, :], yn[:, None])
            self._grid = eff.astype(np.float32)
            self._grid_key = key
        return self._grid
