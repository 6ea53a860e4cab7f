"""The simulated rig's hidden SLM → camera map, its panel's true pixels and its true axial map.

What calibration must find: the affine (``holostim calibrate``), the pixel envelope (``--power``) and how
far a nominal SLM defocus really moves the focus (``--depth``).
"""

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
    defocus_scale : float
        True µm of focus shift per nominal µm of SLM defocus: the session's defocus model assumes the
        stated magnification and medium index, and a relay magnification 2 % off (or a mounting medium
        a little off its nominal index) changes the real shift by a few per cent. Default 1.04.
    defocus_offset_um : float
        Where the SLM's zero-defocus focus really lies, µm from the camera's focal plane (positive:
        deeper): the photostimulation path's collimation and the imaging path's tube lens are never set
        to exactly the same plane. Default 2.0 µm, a fraction of a typical axial resolution.

    A spot the engine places at nominal depth ``z`` is in focus at true depth
    ``defocus_scale · z + defocus_offset_um`` (:meth:`true_depth_um`), which ``holostim calibrate
    --depth`` has to measure.
    """

    rotation_deg: float = 3.0
    scale: float | None = None
    shear: float = 0.02
    mirror: bool = False
    offset_px: tuple[float, float] = (7.5, -4.25)
    fill_factor: float | None = None
    power_falloff: float = 0.0
    defocus_scale: float = 1.04
    defocus_offset_um: float = 2.0

    def __post_init__(self) -> None:
        k = self.defocus_scale
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not (0.2 <= float(k) <= 5.0):
            raise SimulationConfigError(f"ground_truth.defocus_scale={k!r} must be a number in [0.2, 5] "
                                        "(true µm of focus shift per nominal µm)")
        b = self.defocus_offset_um
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b) or abs(b) > 1000:
            raise SimulationConfigError(f"ground_truth.defocus_offset_um={b!r} must be a finite number of µm "
                                        "within ±1000")
        f = self.fill_factor
        if f is not None and not (isinstance(f, (int, float)) and 0 < float(f) <= 1):
            raise SimulationConfigError(f"ground_truth.fill_factor={f!r} must be in (0, 1]")
        a = self.power_falloff
        if not (isinstance(a, (int, float)) and 0 <= float(a) < 2):
            raise SimulationConfigError(f"ground_truth.power_falloff={a!r} must be in [0, 2) (the loss at "
                                        "the field's corner, 1 - a/2, must stay positive)")

    def true_depth_um(self, z_nominal_um: float) -> float:
        """Where a spot the engine places at nominal depth ``z_nominal_um`` really comes to focus (µm)."""
        return float(self.defocus_scale) * float(z_nominal_um) + float(self.defocus_offset_um)

    def nominal_depth_um(self, z_true_um: float) -> float:
        """The nominal SLM defocus (µm, the engine's) that focuses at true depth ``z_true_um``."""
        return (float(z_true_um) - float(self.defocus_offset_um)) / float(self.defocus_scale)

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
