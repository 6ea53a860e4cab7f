"""The hidden SLM → camera map of the simulated rig: what calibration has to find."""

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
    """

    rotation_deg: float = 3.0
    scale: float | None = None
    shear: float = 0.02
    mirror: bool = False
    offset_px: tuple[float, float] = (7.5, -4.25)

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
