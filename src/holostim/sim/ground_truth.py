"""The simulated rig's hidden SLM → camera map and its panel's true pixels: what calibration must find."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from holostim.sim.errors import SimulationConfigError


@dataclass(frozen=True)
class GroundTruth:
    """The SLM Fourier pixel → camera pixel map of the simulated rig (what calibration must find).

    ``camera = R(rotation) · scale · [[1, shear], [0, 1]] · mirror · (slm − zero order) + camera centre +
    offset``, where mirror flips x. With ``scale=None`` the rig derives it from the optics (Fourier
    pitch ``λ f / (N pitch)`` over ``camera_pixel_um``) or, lacking a camera pixel size, makes the SLM
    field span 90 % of the camera.

    Parameters
    ----------
    rotation_deg : float
        Rotation of the SLM axes on the camera, degrees (counter-clockwise in x-right, y-down pixels).
    scale : float or None
        Camera pixels per SLM Fourier pixel.
    shear : float
        x-shear (dimensionless), e.g. from a slightly tilted camera.
    mirror : bool
        The optics flip the image once (an odd number of mirrors).
    offset_px : (float, float)
        Where the zero order lands relative to the camera centre (pixel ``(W//2, H//2)``), camera px.
    fill_factor : float or None
        The SLM pixels' true linear fill factor: the far field is weighted by the pixel aperture's
        envelope ``sinc²(π x_n F) sinc²(π y_n F)`` (``x_n`` in cycles per pixel from the zero order),
        which ``holostim calibrate --power`` has to measure. ``None``: fully filled pixels (``F = 1``);
        a session gives its ``slm.fill_factor`` unless ``simulation.ground_truth.fill_factor`` says
        otherwise.
    power_falloff : float
        A further smooth loss across the field, ``1 − a (x_n² + y_n²)`` (phase flicker, vignetting),
        that no analytic model knows; 0: none.
    """

    rotation_deg: float = 3.0
    scale: float | None = None
    shear: float = 0.02
    mirror: bool = False
    offset_px: tuple[float, float] = (7.5, -4.25)
    fill_factor: float | None = None
    power_falloff: float = 0.0

    def __post_init__(self) -> None:
        f = self.fill_factor
        if f is not None and not (isinstance(f, (int, float)) and 0 < float(f) <= 1):
            raise SimulationConfigError(f"ground_truth.fill_factor={f!r} must be in (0, 1]")
        a = self.power_falloff
        if not (isinstance(a, (int, float)) and 0 <= float(a) < 2):
            raise SimulationConfigError(f"ground_truth.power_falloff={a!r} must be in [0, 2) (the loss at "
                                        "the field's corner, 1 - a/2, must stay positive)")

    def efficiency(self, shape: tuple[int, int]) -> np.ndarray | None:
        """The true fraction of the light kept at each centred Fourier pixel, ``shape``; ``None``: all."""
        ny, nx = shape
        xn = (np.arange(nx) - nx // 2) / nx
        yn = (np.arange(ny) - ny // 2) / ny
        f = 1.0 if self.fill_factor is None else float(self.fill_factor)
        eff = np.sinc(yn[:, None] * f) ** 2 * np.sinc(xn[None, :] * f) ** 2
        if self.power_falloff:
            eff = eff * (1.0 - self.power_falloff * (yn[:, None] ** 2 + xn[None, :] ** 2))
        return eff.astype(np.float32)

    @classmethod
    def from_any(cls, value: GroundTruth | Mapping[str, Any] | None) -> GroundTruth:
        """Accept a :class:`GroundTruth`, a mapping of its fields (from the session YAML) or ``None``."""
        if value is None:
            return cls()
        if isinstance(value, GroundTruth):
            return value
        if not isinstance(value, Mapping):
            raise SimulationConfigError(f"ground_truth must be a mapping of transform fields, got {value!r}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise SimulationConfigError(f"unknown ground_truth keys {unknown}; allowed: {sorted(names)}")
        kw = dict(value)
        if "offset_px" in kw:
            kw["offset_px"] = tuple(float(v) for v in kw["offset_px"])
        return cls(**kw)

    def linear(self, scale: float) -> np.ndarray:
        """The 2×2 linear part for a given scale."""
        th = math.radians(self.rotation_deg)
        rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
        shear = np.array([[1.0, self.shear], [0.0, 1.0]])
        mirror = np.diag([-1.0, 1.0]) if self.mirror else np.eye(2)
        return rot @ (scale * shear) @ mirror

    def matrix(self, slm_shape: tuple[int, int], camera_shape: tuple[int, int], scale: float) -> np.ndarray:
        """2×3 SLM Fourier px ``(x, y, 1)`` → camera px ``(x, y)``."""
        a = self.linear(scale)
        c_slm = np.array([slm_shape[1] // 2, slm_shape[0] // 2], dtype=np.float64)
        c_cam = np.array([camera_shape[1] // 2, camera_shape[0] // 2], dtype=np.float64)
        t = c_cam + np.asarray(self.offset_px, dtype=np.float64) - a @ c_slm
        return np.hstack([a, t[:, None]])
