"""Where a spot is: camera pixels ↔ SLM Fourier-plane pixels ↔ sample micrometres, and the zero order.

The engine places spots in SLM Fourier-plane pixels of the centred far field, so ``(N//2, N//2)`` is the
optical axis. A blazed grating on the SLM moves the whole pattern by ``blaze · N`` Fourier pixels while
the undiffracted zero order stays on the axis; in the engine's coordinates the zero order therefore sits
at ``N//2 - blaze · N``, and that is where the zero-order exclusion applies. The sample plane is the far
field of a Fourier lens: one Fourier pixel is ``λ f / (N dx)`` after the lens, divided by the
magnification of the relay to the sample.

Pure functions of a small frozen :class:`SLMGeometry`, so the refusal rules can be tested without a rig.
The camera ↔ SLM step is the measured calibration (anything with ``check_targets`` and
``camera_to_slm``, i.e. :class:`holostim.calibration.Calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from holostim.errors import HolostimError

__all__ = ["CameraToSLM", "SLMGeometry", "target_refusal"]


class CameraToSLM(Protocol):
    """The part of a calibration the geometry needs: map camera pixels, flag unreachable ones."""

    def camera_to_slm(self, xy: Any) -> np.ndarray: ...  # noqa: D102

    def check_targets(  # noqa: D102
        self, xy_camera: Any, zero_order_radius_px: float, margin_px: float = 0.0
    ) -> list[str | None]: ...


@dataclass(frozen=True)
class SLMGeometry:
    """The optical geometry from the SLM to the sample.

    Attributes
    ----------
    shape : (ny, nx)
        SLM pixels (and engine Fourier pixels).
    pitch_um, wavelength_um : float
        SLM pixel pitch and working wavelength.
    focal_length_um : float
        The Fourier lens after the SLM.
    magnification : float
        Fourier plane → sample demagnification (relay and objective): sample µm = Fourier-plane µm / M.
    blaze : (gx, gy)
        The SLM's blazed grating in cycles per pixel (what the SLM adds to every phase).
    """

    shape: tuple[int, int]
    pitch_um: float
    wavelength_um: float
    focal_length_um: float
    magnification: float = 1.0
    blaze: tuple[float, float] = (0.0, 0.0)

    @property
    def blaze_shift_px(self) -> np.ndarray:
        """How far the blazed grating moves the pattern, ``(x, y)`` Fourier pixels: ``blaze · N``."""
        ny, nx = self.shape
        gx, gy = self.blaze
        return np.array([gx * nx, gy * ny], dtype=np.float64)

    @property
    def centre_px(self) -> np.ndarray:
        """The optical axis ``(x, y)`` in Fourier pixels: ``(N//2, N//2)``."""
        ny, nx = self.shape
        return np.array([nx // 2, ny // 2], dtype=np.float64)

    @property
    def zero_order_slm(self) -> np.ndarray:
        """The zero order in the engine's Fourier pixels ``(x, y)``: ``N//2`` minus the blaze shift."""
        return self.centre_px - self.blaze_shift_px

    @property
    def fourier_pitch_um(self) -> np.ndarray:
        """One Fourier pixel after the lens, ``(x, y)`` µm: ``λ f / (N dx)`` per axis."""
        ny, nx = self.shape
        lam_f = self.wavelength_um * self.focal_length_um
        return np.array([lam_f / (nx * self.pitch_um), lam_f / (ny * self.pitch_um)])

    def slm_to_sample_um(self, xy_slm: Any) -> np.ndarray:
        """Engine Fourier pixels ``(N, 2)`` → sample µm: ``(p + blaze·N - N//2) · λ f / (N dx) / M``."""
        xy = np.asarray(xy_slm, dtype=np.float64).reshape(-1, 2) + self.blaze_shift_px
        return (xy - self.centre_px) * self.fourier_pitch_um / self.magnification


def target_refusal(
    calibration: CameraToSLM | None, geometry: SLMGeometry, x: float, y: float, zero_order_radius_px: float
) -> str | None:
    """Why light cannot be sent to camera pixel ``(x, y)``, or ``None`` when it can.

    Refused: no calibration, outside the SLM's addressable field, or within ``zero_order_radius_px`` of
    the zero order (which the blaze moves away from the centre, see the module docstring). Targets are
    flagged, never moved: silently shifting a target would stimulate the wrong cell.
    """
    if calibration is None:
        return "no calibration: run `holostim calibrate` (or Calibrate in the GUI) first"
    shift = geometry.blaze_shift_px
    xy = [[float(x), float(y)]]
    try:
        (reason,) = calibration.check_targets(
            xy, zero_order_radius_px=zero_order_radius_px if not shift.any() else 0.0
        )
    except HolostimError as exc:
        return str(exc)
    if reason is None and shift.any():
        zero = geometry.zero_order_slm
        sx, sy = calibration.camera_to_slm(xy)[0]
        r = float(np.hypot(sx - zero[0], sy - zero[1]))
        if r < zero_order_radius_px:
            reason = (f"camera ({x:.1f}, {y:.1f}) is inside the zero-order exclusion: {r:.1f} SLM px "
                      f"from the zero order (shifted by the blaze), closer than {zero_order_radius_px:g} px")
    return reason

