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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from holostim.calibration.power_map import efficiency, pixel_envelope

if TYPE_CHECKING:
    from holostim.calibration import Calibration
    from holostim.geometry import SLMGeometry

__all__ = ["PowerModel"]


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
