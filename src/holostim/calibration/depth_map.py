"""The measured axial map: where a spot the engine places at a nominal depth really comes to focus.

The session's defocus model (:mod:`holostim.optics.defocus`) turns a depth into an SLM phase from the
stated optics: the magnification, the medium's index, the Fourier lens. Each is known to a few per cent,
and the photostimulation path's zero-defocus plane is never exactly the imaging path's focal plane. Both
errors act on the focus linearly — the defocus phase of either model is proportional to ``z``, so a
wrong magnification or index scales the real shift, and a collimation error adds a constant — so the
map is the straight line

``z_true = scale · z_nominal + offset_um``

fitted by least squares to the best-focus points of ``holostim calibrate --depth``
(:mod:`~holostim.calibration.depth_procedure`). A higher-order polynomial would fit the measurement's
noise, not the optics: the residual of the line says whether the line is enough (the non-paraxial part
a paraxial session misses shows up there). The session inverts it, ``z_nominal = (z − offset) / scale``,
where a target's depth becomes the engine's.

Pure numpy; no devices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from holostim.calibration.errors import CalibrationError

__all__ = ["DepthMap", "fit_depth_map"]

SCALE_RANGE = (0.2, 5.0)
"""The scales a depth map may have: beyond them the optics are not the ones the session describes."""


@dataclass(frozen=True)
class DepthMap:
    """``z_true = scale · z_nominal + offset_um`` (module docstring), with how well it was measured.

    Attributes
    ----------
    scale : float
        True µm of focus shift per nominal µm of SLM defocus.
    offset_um : float
        True depth (µm from the camera's focal plane) of the SLM's zero-defocus focus.
    residual_um : float
        RMS of the best-focus points about the line (µm); NaN when not measured.
    n_points : int
        Focus positions the line was fitted to.
    range_um : (float, float)
        The true depths measured (shallowest, deepest): beyond them the line is extrapolated.
    defocus_model : str
        The session's defocus model it was measured with (``paraxial`` or ``high_na``).
    """

    scale: float
    offset_um: float
    residual_um: float = float("nan")
    n_points: int = 0
    range_um: tuple[float, float] = (0.0, 0.0)
    defocus_model: str = "high_na"

    def __post_init__(self) -> None:
        lo, hi = SCALE_RANGE
        for name in ("scale", "offset_um"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not math.isfinite(v):
                raise CalibrationError(f"depth_map.{name}={v!r} must be a finite number")
            object.__setattr__(self, name, float(v))
        if not lo <= self.scale <= hi:
            raise CalibrationError(f"depth_map.scale={self.scale!r} must be in [{lo:g}, {hi:g}] (true µm per "
                                   "nominal µm); run `holostim calibrate --depth` again")
        if abs(self.offset_um) > 1000:
            raise CalibrationError(f"depth_map.offset_um={self.offset_um!r} is beyond ±1000 µm")
        r = self.residual_um
        number = not isinstance(r, bool) and isinstance(r, (int, float, np.floating))
        if not number or not (math.isnan(r) or r >= 0):
            raise CalibrationError(f"depth_map.residual_um={r!r} must be a number ≥ 0 (NaN: not measured)")
        object.__setattr__(self, "residual_um", float(r))
        n = self.n_points
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise CalibrationError(f"depth_map.n_points={n!r} must be a whole number ≥ 0")
        object.__setattr__(self, "n_points", int(n))
        try:
            a, b = (float(v) for v in self.range_um)
        except (TypeError, ValueError):
            raise CalibrationError(f"depth_map.range_um={self.range_um!r} must be [shallowest, "
                                   "deepest]") from None
        if not (math.isfinite(a) and math.isfinite(b) and a <= b):
            raise CalibrationError(f"depth_map.range_um={self.range_um!r} must be [shallowest, deepest]")
        object.__setattr__(self, "range_um", (a, b))
        if self.defocus_model not in ("paraxial", "high_na"):
            raise CalibrationError(f"depth_map.defocus_model={self.defocus_model!r} must be paraxial or "
                                   "high_na")

    def true_um(self, z_nominal_um: Any) -> np.ndarray:
        """Where spots placed at nominal depths ``z_nominal_um`` really focus (µm)."""
        return self.scale * np.asarray(z_nominal_um, dtype=np.float64) + self.offset_um

    def nominal_um(self, z_true_um: Any) -> np.ndarray:
        """The nominal (engine) depths that focus at true depths ``z_true_um`` (µm)."""
        return (np.asarray(z_true_um, dtype=np.float64) - self.offset_um) / self.scale

    def to_dict(self) -> dict[str, Any]:
        """Plain types for the calibration file."""
        return {"model": "z_true = scale * z_nominal + offset_um", "scale": self.scale,
                "offset_um": self.offset_um, "residual_um": self.residual_um, "n_points": self.n_points,
                "range_um": list(self.range_um), "defocus_model": self.defocus_model}

    @classmethod
    def from_dict(cls, data: Any, source: str = "depth_map") -> DepthMap:
        """Inverse of :meth:`to_dict`; an error names the key."""
        if not isinstance(data, dict):
            raise CalibrationError(f"{source}: depth_map must be a mapping, got {type(data).__name__}")
        for key in ("scale", "offset_um"):
            if key not in data:
                raise CalibrationError(f"{source}: depth_map is missing key {key!r}; run `holostim calibrate "
                                       "--depth` again")
        try:
            return cls(scale=data["scale"], offset_um=data["offset_um"],
                       residual_um=data.get("residual_um", float("nan")), n_points=data.get("n_points", 0),
                       range_um=tuple(data.get("range_um", (0.0, 0.0))),
                       defocus_model=data.get("defocus_model", "high_na"))
        except CalibrationError as exc:
            raise CalibrationError(f"{source}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"{source}: depth_map has a bad value ({exc})") from None


def fit_depth_map(true_um: Any, nominal_um: Any, defocus_model: str = "high_na") -> DepthMap:
    """The least-squares line ``true = scale · nominal + offset`` through the best-focus points.

    Raises
    ------
    CalibrationError
        Fewer than three points, or points that do not span a depth range.
    """
    t = np.asarray(true_um, dtype=np.float64).reshape(-1)
    z = np.asarray(nominal_um, dtype=np.float64).reshape(-1)
    if t.shape != z.shape or len(t) < 3 or not (np.all(np.isfinite(t)) and np.all(np.isfinite(z))):
        raise CalibrationError(f"a depth map needs at least 3 finite best-focus points, got {len(t)}")
    if np.ptp(z) <= 0:
        raise CalibrationError("the best-focus points do not span a depth range: step the focus further")
    scale, offset = np.polyfit(z, t, 1)
    resid = t - (scale * z + offset)
    rms = float(np.sqrt(np.mean(resid**2)))
    return DepthMap(scale=float(scale), offset_um=float(offset), residual_um=rms, n_points=len(t),
                    range_um=(float(t.min()), float(t.max())), defocus_model=defocus_model)
