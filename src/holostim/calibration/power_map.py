"""Diffraction efficiency across the SLM's field: the pixel envelope, times a measured smooth map.

A pixelated SLM does not send a spot's share of the light to the sample whole: each pixel is a small
square aperture, so the first-order field is weighted by the Fourier transform of that aperture — per
axis ``sinc²(π x_n F)`` for a spot at ``x_n`` cycles per pixel from the zero order and a linear fill
factor ``F`` (the rest goes to higher orders, outside the field). At the edge of the field (``x_n = ½``)
and ``F = 1`` that is ``(2/π)² ≈ 0.41``. Everything else that varies smoothly across the field (phase
flicker, the LUT at high spatial frequencies, vignetting in the relay) is what :func:`fit_power_map`
measures, as a low-order polynomial of ``log(measured / envelope)`` in the same coordinates.

Coordinates: ``x_n = (x − zero_order_x) / N_x`` for engine Fourier pixels ``x`` (the zero order is
``N//2`` minus a blaze's shift), so ``|x_n| ≤ ½`` across the first-order field. Efficiencies are
normalised to 1 at the zero order: the constant losses (dead space, reflectivity) are part of the
laser power the user states at the sample. ``z`` (depth) is accepted and must be 0 until a depth axis is
measured: a map has no depth terms yet.

Pure numpy; no devices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from holostim.calibration.errors import CalibrationError

__all__ = ["PowerMap", "efficiency", "fill_factor_pair", "fit_fill_factor", "fit_power_map", "n_coefficients",
           "normalised_coordinates", "pixel_envelope"]

MAX_DEGREE = 6
MAX_MAP_FACTOR = 2.0
"""The map corrects the envelope by at most this factor either way: a polynomial extrapolated beyond the
measured spots (to the field's corners) must not make the compensation send a spot many times the
light, or promise it none."""


def fill_factor_pair(fill_factor: float | Sequence[float]) -> tuple[float, float]:
    """``(F_y, F_x)`` from one number or a pair, each in (0, 1]; a :class:`CalibrationError` otherwise."""
    pair = (fill_factor, fill_factor) if np.ndim(fill_factor) == 0 else tuple(fill_factor)  # type: ignore[arg-type]
    if len(pair) != 2:
        raise CalibrationError(f"fill_factor={fill_factor!r} must be one number or (F_y, F_x)")
    out = []
    for f in pair:
        if isinstance(f, bool) or not isinstance(f, (int, float, np.floating)) or not 0 < float(f) <= 1:
            raise CalibrationError(f"fill_factor={fill_factor!r} must be in (0, 1] (the active fraction of "
                                   "a pixel's width)")
        out.append(float(f))
    return out[0], out[1]


def pixel_envelope(xn: Any, yn: Any, fill_factor: float | Sequence[float]) -> np.ndarray:
    """``sinc²(π x_n F_x) · sinc²(π y_n F_y)``: the fraction of a spot's light a pixel aperture keeps."""
    fy, fx = fill_factor_pair(fill_factor)
    return np.sinc(np.asarray(xn, np.float64) * fx) ** 2 * np.sinc(np.asarray(yn, np.float64) * fy) ** 2


def normalised_coordinates(xy: Any, shape: tuple[int, int],
                           zero_order: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Engine Fourier pixels ``(N, 2)`` → ``(x_n, y_n)`` in cycles per SLM pixel from the zero order."""
    ny, nx = (int(v) for v in shape)
    zx, zy = (nx // 2, ny // 2) if zero_order is None else (float(zero_order[0]), float(zero_order[1]))
    p = np.asarray(xy, np.float64).reshape(-1, 2)
    return (p[:, 0] - zx) / nx, (p[:, 1] - zy) / ny


def _terms(degree: int) -> list[tuple[int, int]]:
    """Exponents ``(i, j)`` of ``x^i y^j`` with ``0 < i + j ≤ degree`` (no constant: 1 at the zero order)."""
    return [(i, d - i) for d in range(1, degree + 1) for i in range(d, -1, -1)]


def n_coefficients(degree: int) -> int:
    """Free parameters of a degree-``degree`` fit: the map's terms and the overall scale."""
    return len(_terms(degree)) + 1


def _design(xn: np.ndarray, yn: np.ndarray, degree: int) -> np.ndarray:
    cols = [xn**i * yn**j for i, j in _terms(degree)]
    return np.column_stack(cols) if cols else np.zeros((len(xn), 0))


@dataclass(frozen=True)
class PowerMap:
    """A measured smooth correction to the pixel envelope: ``exp(Σ c_ij x_n^i y_n^j)``, 1 at the zero order.

    Attributes
    ----------
    degree : polynomial degree (the coefficients follow :func:`_terms`' order).
    coefficients : the fit in ``log`` space.
    fill_factor : the envelope's fill factor ``(F_y, F_x)`` the map is relative to (the session's).
    residual : RMS relative misfit of the measured efficiencies around envelope × map.
    n_spots : spots the fit used.
    fitted_fill_factor : the fill factor ``(F_y, F_x)`` the measurements alone imply (a diagnostic).
    """

    degree: int
    coefficients: tuple[float, ...]
    fill_factor: tuple[float, float]
    residual: float = float("nan")
    n_spots: int = 0
    fitted_fill_factor: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        d = self.degree
        if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= MAX_DEGREE:
            raise CalibrationError(f"power map degree {self.degree!r} must be an integer 0 to {MAX_DEGREE}")
        c = tuple(float(v) for v in self.coefficients)
        if len(c) != len(_terms(self.degree)) or not all(math.isfinite(v) for v in c):
            raise CalibrationError(f"a degree-{self.degree} power map needs {len(_terms(self.degree))} "
                                   f"finite coefficients, got {list(self.coefficients)}")
        object.__setattr__(self, "coefficients", c)
        object.__setattr__(self, "fill_factor", fill_factor_pair(self.fill_factor))
        if self.fitted_fill_factor is not None:
            object.__setattr__(self, "fitted_fill_factor", fill_factor_pair(self.fitted_fill_factor))

    def __call__(self, xn: Any, yn: Any, z: Any = 0.0) -> np.ndarray:
        """The map's factor at ``(x_n, y_n)`` (1 at the zero order; within ×/÷ :data:`MAX_MAP_FACTOR`).

        ``z`` must be 0 (no depth axis yet).
        """
        _no_depth(z)
        x = np.asarray(xn, np.float64)
        y = np.asarray(yn, np.float64)
        out = np.zeros(np.broadcast(x, y).shape)
        for c, (i, j) in zip(self.coefficients, _terms(self.degree), strict=True):
            out = out + c * x**i * y**j
        bound = math.log(MAX_MAP_FACTOR)
        return np.exp(np.clip(out, -bound, bound))

    def to_dict(self) -> dict[str, Any]:
        """Plain types for the calibration file."""
        return {
            "model": "pixel_envelope*exp(poly)",
            "degree": self.degree,
            "coefficients": list(self.coefficients),
            "fill_factor": list(self.fill_factor),
            "residual": float(self.residual),
            "n_spots": int(self.n_spots),
            "fitted_fill_factor": None if self.fitted_fill_factor is None else list(self.fitted_fill_factor),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "power_map") -> PowerMap:
        """Inverse of :meth:`to_dict`; an error names the key."""
        if not isinstance(data, dict):
            raise CalibrationError(f"{source}: power_map must be a mapping, got {type(data).__name__}")
        for key in ("degree", "coefficients", "fill_factor"):
            if key not in data:
                raise CalibrationError(f"{source}: power_map is missing key {key!r}; run `holostim calibrate "
                                       "--power` again")
        try:
            return cls(degree=data["degree"], coefficients=tuple(data["coefficients"]),
                       fill_factor=data["fill_factor"], residual=float(data.get("residual", float("nan"))),
                       n_spots=int(data.get("n_spots", 0)), fitted_fill_factor=data.get("fitted_fill_factor"))
        except CalibrationError as exc:
            raise CalibrationError(f"{source}: power_map: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"{source}: power_map: bad value ({exc})") from None


def _no_depth(z: Any) -> None:
    if np.any(np.asarray(z, np.float64) != 0):
        raise CalibrationError("the diffraction-efficiency map has no depth axis yet: z must be 0")


def efficiency(xy: Any, shape: tuple[int, int], fill_factor: float | Sequence[float], *,
               zero_order: Sequence[float] | None = None, power_map: PowerMap | None = None,
               z: Any = 0.0) -> np.ndarray:
    """Fraction of each spot's share that reaches the sample, relative to the zero order, ``(N,)``.

    ``xy``: engine Fourier pixels ``(N, 2)``; the envelope of ``fill_factor`` (the session's
    ``slm.fill_factor``) times the measured ``power_map`` when there is one.
    """
    _no_depth(z)
    xn, yn = normalised_coordinates(xy, shape, zero_order)
    eff = pixel_envelope(xn, yn, fill_factor)
    if power_map is not None:
        eff = eff * power_map(xn, yn, z)
    return eff


def fit_fill_factor(xn: Any, yn: Any, measured: Any) -> tuple[tuple[float, float], float]:
    """The fill factor ``(F_y, F_x)`` and scale that best explain measured efficiencies (log least squares).

    The envelope alone, with a free overall scale (the camera's gain is unknown): a diagnostic of what
    the measurements imply, beside the smooth map.
    """
    from scipy.optimize import least_squares

    x, y, m = (np.asarray(v, np.float64) for v in (xn, yn, measured))
    logm = np.log(m)

    def res(p: np.ndarray) -> np.ndarray:
        return p[2] + np.log(pixel_envelope(x, y, (p[0], p[1]))) - logm

    sol = least_squares(res, x0=[0.9, 0.9, float(np.median(logm))], bounds=([1e-3, 1e-3, -np.inf],
                                                                          [1.0, 1.0, np.inf]))
    return (float(sol.x[0]), float(sol.x[1])), float(math.exp(sol.x[2]))


def fit_power_map(xn: Any, yn: Any, measured: Any, fill_factor: float | Sequence[float], *,
                  degree: int = 4) -> PowerMap:
    """Fit ``measured ≈ s · envelope(fill_factor) · exp(poly)`` (free scale ``s``, the camera's gain).

    ``measured``: the relative efficiency of each spot (its camera flux over its share of the light),
    any positive scale. Raises :class:`CalibrationError` for too few or non-positive measurements.
    """
    x, y, m = (np.asarray(v, np.float64).ravel() for v in (xn, yn, measured))
    if not (len(x) == len(y) == len(m)):
        raise CalibrationError("x_n, y_n and measured must have the same length")
    n_terms = n_coefficients(degree)
    if len(m) < n_terms + 2:
        raise CalibrationError(f"{len(m)} measured spots cannot fit a degree-{degree} power map (need at "
                               f"least {n_terms + 2}); use a larger grid or a lower degree")
    if not np.all(np.isfinite(m) & (m > 0)):
        raise CalibrationError("every measured spot needs a positive flux; a spot was not seen (raise the "
                               "exposure or calibration.laser_power_mw)")
    ff = fill_factor_pair(fill_factor)
    target = np.log(m) - np.log(pixel_envelope(x, y, ff))
    a = np.column_stack([np.ones_like(x), _design(x, y, degree)])
    coef, *_ = np.linalg.lstsq(a, target, rcond=None)
    fit = a @ coef
    residual = float(np.sqrt(np.mean(np.expm1(target - fit) ** 2)))
    fitted, _ = fit_fill_factor(x, y, m)
    return PowerMap(degree=int(degree), coefficients=tuple(coef[1:]), fill_factor=ff, residual=residual,
                    n_spots=len(m), fitted_fill_factor=fitted)
