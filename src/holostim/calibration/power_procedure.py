"""Measuring the diffraction efficiency across the field: sparse spots, their camera flux, a smooth fit.

A grid of spots spanning most of the first-order field is shown in a few interleaved sparse frames (so
neighbours on the camera stay apart and each frame's spots share the light); each spot's camera flux
(background-subtracted, local rim median removed) divided by its share of the light in the engine's
ideal model is its relative efficiency. :func:`~holostim.calibration.power_map.fit_power_map` fits those
relative to the session's analytic pixel envelope; the result goes into the calibration file.

Needs the camera ↔ SLM calibration (to know where each spot lands on the camera). Every frame is put
on the SLM by ``show`` — a session passes its own, through the gate and the log. Waiting is injectable.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from holostim.calibration.errors import CalibrationError
from holostim.calibration.file import Calibration
from holostim.calibration.power_map import PowerMap, fit_power_map, n_coefficients, normalised_coordinates
from holostim.calibration.procedure import ProgressFn, ShowFn, grid_points

if TYPE_CHECKING:
    from holostim.hardware.camera import CameraProtocol
    from holostim.hardware.slm import SLMProtocol
    from holostim.holography import HologramEngine

__all__ = ["PowerMeasurement", "measure_power_map"]


class PowerMeasurement:
    """What one power calibration measured: the spots, their relative efficiencies, and the fitted map."""

    def __init__(self, spots_slm: np.ndarray, measured: np.ndarray, power_map: PowerMap):
        self.spots_slm = spots_slm
        self.measured = measured
        self.power_map = power_map


def _share(engine: HologramEngine, phase: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Each spot's fraction of the light in the engine's ideal model (±1 SLM pixel box, as the gate)."""
    far = np.abs(engine.far_field(phase)) ** 2
    p = int(engine.padding)
    by, bx = far.shape
    ny, nx = engine.shape
    out = []
    for x, y in pts:
        i = int(round(by // 2 + p * (y - ny // 2)))
        j = int(round(bx // 2 + p * (x - nx // 2)))
        out.append(float(far[max(0, i - p): i + p + 1, max(0, j - p): j + p + 1].sum()))
    return np.asarray(out)


def _flux(image: np.ndarray, xy: np.ndarray, r: int) -> np.ndarray:
    """Summed intensity in a ``(2r+1)²`` box at each camera point, minus the box rim's median per pixel."""
    h, w = image.shape
    out = []
    for x, y in xy:
        cx, cy = int(round(x)), int(round(y))
        y0, y1, x0, x1 = cy - r, cy + r + 1, cx - r, cx + r + 1
        if y0 < 0 or x0 < 0 or y1 > h or x1 > w:
            out.append(float("nan"))
            continue
        box = image[y0:y1, x0:x1]
        rim = np.concatenate([box[0], box[-1], box[1:-1, 0], box[1:-1, -1]])
        out.append(float((box - np.median(rim)).sum()))
    return np.asarray(out)


def measure_power_map(
    engine: HologramEngine,
    slm: SLMProtocol,
    camera: CameraProtocol,
    calibration: Calibration,
    *,
    fill_factor: float | Sequence[float],
    zero_order: Sequence[float] | None = None,
    grid: int = 7,
    extent: float = 0.85,
    zero_order_radius_px: float = 3.0,
    degree: int = 4,
    iterations: int = 20,
    snaps: int = 4,
    settle_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: ProgressFn | None = None,
    show: ShowFn | None = None,
) -> PowerMeasurement:
    """Project sparse spot grids, measure each spot's camera flux, fit the efficiency map.

    ``grid`` spots per side (3 to 7) spanning ``extent`` of the field, shown in four interleaved frames
    (every second spot per axis), plus a background frame (flat phase) first; each frame is the mean of
    ``snaps`` camera frames (a spot's shot noise is the measurement's main error). ``fill_factor``: the
    envelope the map is relative to (the session's ``slm.fill_factor``); ``zero_order``: where it is in
    engine Fourier pixels (the blaze moves it); ``degree`` is lowered until the spots outnumber the
    map's coefficients by three. Spots whose box leaves the camera are skipped; raises
    :class:`CalibrationError` when fewer than half land on it, or a spot is not seen.
    """
    from holostim.holography import SpotTarget

    shape = tuple(int(v) for v in slm.shape)
    pts = grid_points(shape, grid, extent, zero_order_radius_px)  # validates grid and extent
    if isinstance(snaps, bool) or not isinstance(snaps, int) or snaps < 1:
        raise CalibrationError(f"snaps={snaps!r} must be a positive integer (camera frames per step)")
    if settle_s is None:
        settle_s = max(0.05, 10.0 * float(slm.settle_ms) / 1000.0)
    offsets = np.unique(pts[:, 0])
    ix = np.searchsorted(offsets, pts[:, 0])
    iy = np.searchsorted(np.unique(pts[:, 1]), pts[:, 1])
    groups = [pts[(ix % 2 == a) & (iy % 2 == b)] for a in (0, 1) for b in (0, 1)]
    groups = [g for g in groups if len(g)]
    spacing_cam = float(np.min(np.diff(offsets))) * calibration.scale_camera_per_slm()
    r = int(np.clip(math.floor(0.8 * spacing_cam), 3, 8))  # neighbours in a frame are 2 spacings apart
    total = len(groups) + 2

    def put_and_snap(phase: np.ndarray, spots: np.ndarray, what: str) -> np.ndarray:
        if show is None:
            slm.show_phase(phase)
        else:
            show(phase, np.asarray(spots, np.float64).reshape(-1, 2), what)
        if settle_s > 0:
            sleep(settle_s)
        return np.mean([np.asarray(camera.snap(), dtype=np.float64) for _ in range(snaps)], axis=0)

    background = put_and_snap(np.zeros(shape, np.float32), np.zeros((0, 2)), "power: background")
    if progress is not None:
        progress(1, total, "background frame")
    spots, measured = [], []
    for k, g in enumerate(groups):
        phase = np.asarray(engine.compute(SpotTarget.from_pixels(g, shape=shape), method="wgs",
                                          iterations=iterations).phase)
        frame = put_and_snap(phase, g, f"power: spots {k + 1}/{len(groups)}") - background
        cam = calibration.slm_to_camera(g)
        flux = _flux(frame, cam, r)
        seen = np.isfinite(flux)  # a spot whose box leaves the camera is not measured
        spots.append(g[seen])
        measured.append(flux[seen] / _share(engine, phase, g)[seen])
        if progress is not None:
            progress(k + 2, total, f"spots {k + 1}/{len(groups)}")
    xy = np.concatenate(spots)
    eff = np.concatenate(measured)
    if len(xy) < max(8, len(pts) // 2):
        raise CalibrationError(f"power calibration: only {len(xy)} of {len(pts)} spots land on the camera "
                               f"(with a {r} px margin); lower the extent or center the camera on the field")
    if np.any(eff <= 0):
        bad = xy[eff <= 0][0]
        raise CalibrationError(f"power calibration: no light seen at SLM pixel ({bad[0]:.0f}, {bad[1]:.0f}); "
                               "check calibration.laser_power_mw (the laser is blocked without it), the "
                               "exposure and that the spots are visible to the camera")
    xn, yn = normalised_coordinates(xy, shape, zero_order)
    while degree > 0 and len(xy) < n_coefficients(degree) + 3:  # a small grid gets a smoother map
        degree -= 1
    pm = fit_power_map(xn, yn, eff, fill_factor, degree=degree)
    if progress is not None:
        progress(total, total, "fit")
    return PowerMeasurement(xy, eff, pm)
