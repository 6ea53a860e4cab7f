"""The data of the click → SLM loop: the :class:`Target` asked for, the :class:`ApplyResult` shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from holostim.hardware.slm import FrameRecord
    from holostim.holography import HologramMetrics, Timings

__all__ = ["ApplyResult", "Target"]


@dataclass(frozen=True)
class Target:
    """A stimulation target in camera pixels (``x`` right, ``y`` down), with a relative weight.

    ``id`` is the target's stable identity (the GUI numbers targets once and never renumbers them), so a
    log record names the same neuron across patterns even when others were deleted; ``None`` when the
    caller has no identity for it. ``z_um`` is the spot's depth (a 3-D target, computed by the direct
    sum with the session's defocus model); 0, the focal plane, by default.
    """

    x: float
    y: float
    weight: float = 1.0
    group: int = 0
    id: int | None = None
    z_um: float = 0.0  # depth in the sample, µm from the imaging focal plane (positive: deeper)


@dataclass
class ApplyResult:
    """One computed (and, after :meth:`Session.show`, shown) pattern.

    Attributes
    ----------
    targets : list of Target
        What was asked, in camera pixels.
    targets_slm : ndarray (N, 2)
        The same spots in SLM Fourier-plane pixels ``(x, y)``.
    phase : ndarray
        The computed SLM phase in radians, [0, 2π), shape of the SLM.
    frame : ndarray of uint8 or None
        The exact frame sent to the SLM (after corrections and LUT); ``None`` until shown.
    metrics, timings, iterations, method
        From the engine (``timings.total_ms`` is the compute time).
    predicted_power_mw : ndarray (N,) or None
        Power per spot expected at the sample, from the far field of the phase (the safety gate's:
        ``safety.laser_power_mw`` × the light within one Fourier pixel of each spot × the diffraction
        efficiency there); once shown, of the frame actually shown. ``None`` when the laser power is not
        stated or there are no targets.
    efficiency : ndarray (N,) or None
        The modelled diffraction efficiency at each spot (1 at the zero order); with
        ``engine.power_compensation`` the engine was asked for the weights divided by it.
    depths_engine_um : ndarray (N,) or None
        Each spot's depth as the engine placed it (the nominal depth of the session's defocus model):
        the target's ``z_um`` through the calibration's depth map; ``None``: the targets' own ``z_um``
        (no depth map).
    record : dict or None
        The log record written when it was shown.
    t_request, t_computed, t_swapped : float
        ``time.monotonic()`` of the request, the end of the compute and the SLM swap (``None`` until
        swapped).
    frame_record
        The SLM's :class:`~holostim.hardware.slm.FrameRecord` (upload and swap times).
    warm_started : bool
        Whether the engine started from the previous phase.
    """

    targets: list[Target]
    targets_slm: np.ndarray
    phase: np.ndarray
    metrics: HologramMetrics | None
    timings: Timings | None
    iterations: int
    method: str
    t_request: float
    t_computed: float
    predicted_power_mw: np.ndarray | None = None
    warm_started: bool = False
    frame: np.ndarray | None = None
    record: dict[str, Any] | None = None
    t_swapped: float | None = None
    frame_record: FrameRecord | None = None
    efficiency: np.ndarray | None = None
    depths_engine_um: np.ndarray | None = None

    @property
    def spots_slm(self) -> np.ndarray:
        """``(N, 3)``: each target's engine Fourier pixel ``(x, y)`` and the depth the engine placed it at.

        The gate judges each spot where the engine put it (the nominal depth its phase focuses at), so
        with a depth map this is :attr:`depths_engine_um`, not the target's ``z_um``.
        """
        if self.depths_engine_um is not None:
            z = np.asarray(self.depths_engine_um, dtype=np.float64).reshape(-1)
        else:
            z = np.array([float(getattr(t, "z_um", 0.0)) for t in self.targets], dtype=np.float64)
        xy = np.asarray(self.targets_slm, np.float64).reshape(-1, 2)
        return np.column_stack([xy, z if len(z) == len(xy) else np.zeros(len(xy))])

    @property
    def compute_ms(self) -> float:
        """Engine compute time in ms (what the engine measured)."""
        return float(self.timings.total_ms) if self.timings is not None else 0.0

    @property
    def click_to_swap_ms(self) -> float | None:
        """Request → SLM swap in ms (``None`` until swapped)."""
        if self.t_swapped is None:
            return None
        return 1e3 * (self.t_swapped - self.t_request)
