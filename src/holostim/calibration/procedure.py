"""Measuring the calibration: project spots with the SLM, find them on the camera, fit the affine.

The engine computes a grid of spots, the SLM shows it, the camera snaps it (minus a background frame),
spots are found with sub-pixel centroids, matched to the grid, outliers are rejected and a least-squares
affine is fitted. Three single reference spots shown first fix the coarse orientation, so rotations of
any angle and mirrored set-ups are matched correctly (a square grid alone cannot tell a 90° turn or a
flip). Waiting is injectable (``sleep``), so tests run on a simulated clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from holostim.calibration.affine import apply_affine, fit_affine, invert_affine
from holostim.calibration.errors import CalibrationError
from holostim.calibration.file import Calibration
from holostim.calibration.spots import detect_spots, match_points, reject_outliers
from holostim.hardware.camera import CameraProtocol
from holostim.hardware.slm import SLMProtocol

if TYPE_CHECKING:
    from holostim.holography import HologramEngine

__all__ = ["ProgressFn", "ShowFn", "grid_points", "run_calibration"]

ProgressFn = Callable[[int, int, str], None]
#: ``show(phase, spots_slm, what)``: put one calibration frame on the SLM (``spots_slm``: the (k, 2)
#: Fourier-pixel positions of its spots, empty for the background; ``what``: the step).
ShowFn = Callable[[np.ndarray, np.ndarray, str], object]


def grid_points(
    slm_shape: tuple[int, int], grid: int, extent: float, zero_order_radius_px: float = 0.0
) -> np.ndarray:
    """Integer SLM Fourier-plane positions ``(x, y)`` of a ``grid × grid`` calibration pattern.

    The grid is centred on the zero order and spans ``extent`` (0..1] of the Fourier field; points within
    ``zero_order_radius_px`` of the zero order are left out, because zero-order leakage on a real SLM
    would pull their centroids.
    """
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or not 3 <= grid <= 7:
        raise CalibrationError(f"grid={grid!r} spots per side is not allowed; use an integer from 3 to 7")
    if not (isinstance(extent, (int, float)) and 0 < extent <= 1):
        raise CalibrationError(f"extent={extent!r} must be a fraction of the SLM field in (0, 1]")
    ny, nx = (int(v) for v in slm_shape)
    cy, cx = ny // 2, nx // 2
    half = 0.5 * extent * (min(nx, ny) - 2)
    offsets = np.round(np.linspace(-half, half, int(grid)))
    if len(np.unique(offsets)) < grid:
        raise CalibrationError(f"extent={extent} on a {ny}×{nx} SLM is too small for a {grid}×{grid} grid")
    gx, gy = np.meshgrid(offsets + cx, offsets + cy)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    keep = np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) > zero_order_radius_px
    return pts[keep]


def run_calibration(
    engine: HologramEngine,
    slm: SLMProtocol,
    camera: CameraProtocol,
    *,
    grid: int = 5,
    extent: float = 0.5,
    zero_order_radius_px: float = 3.0,
    iterations: int = 10,
    settle_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: ProgressFn | None = None,
    show: ShowFn | None = None,
    restore: bool = True,
) -> Calibration:
    """Measure the camera ↔ SLM affine by projecting spots and finding them on the camera.

    Steps: a background frame with a flat phase (all light in the zero order, outside the grid); three
    single reference spots (grid corners) that give a coarse affine — rotation, scale and mirror of any
    kind; the full grid, whose detected spots are matched to the coarse prediction, fitted by least
    squares with outlier rejection. The residual is reported in camera pixels.

    Parameters
    ----------
    engine : HologramEngine
        Computes the spot holograms (``engine.compute(SpotTarget.from_pixels(...), method="wgs")``).
    slm : SLM
        Shows them (``slm.show_phase(phase)``; ``slm.shape``).
    camera : Camera
        Snaps them (``camera.snap()``); for a fluorescent slide or the simulated rig with visible spots.
    grid : int
        Spots per side, 3 to 7.
    extent : float
        Fraction (0..1] of the SLM Fourier field the grid spans; it must land on the camera.
    zero_order_radius_px : float
        Grid points closer than this (SLM px) to the zero order are left out.
    iterations : int
        WGS iterations per hologram (the spots need only be visible and roughly even, not perfect).
    settle_s : float or None
        Wait after each pattern before snapping (liquid-crystal response); default: ten of the SLM's
        settle time constants (the SLM's ``settle_ms``), at least 0.05 s.
    sleep : callable
        How to wait (``time.sleep``; a simulated clock's advance in tests).
    progress : callable or None
        ``progress(done, total, what)`` after each step.
    show : callable or None
        ``show(phase, spots_slm, what)`` puts each frame on the SLM. A session passes its own, which
        sends every calibration frame through the safety gate and the log (so its spots obey the power
        limits and the laser permit follows them); default ``slm.show_phase(phase)``.
    restore : bool
        Show again what the SLM showed before (or a flat phase) at the end, also after a failure. A
        session passes ``False`` and re-shows through its own gate.

    Raises
    ------
    CalibrationError
        Bad grid/extent, a reference spot not found, or too few grid spots matched (the message says
        how many and what to change: exposure, extent, spot visibility).
    """
    from holostim.holography import SpotTarget

    slm_shape = tuple(int(v) for v in slm.shape)
    engine_shape = tuple(int(v) for v in engine.shape)
    if engine_shape != slm_shape:
        raise CalibrationError(
            f"the engine computes {engine_shape[0]}×{engine_shape[1]} masks but the SLM is "
            f"{slm_shape[0]}×{slm_shape[1]}; build the engine with shape=slm.shape"
        )
    pts = grid_points(slm_shape, grid, extent, zero_order_radius_px)  # validates grid/extent first
    if settle_s is None:  # a liquid crystal settles to 1e-4 in ~10 time constants
        # Only the simulated panel knows its time constant; a real one gets the minimum wait.
        settle_s = max(0.05, 10.0 * float(slm.settle_ms) / 1000.0)
    total = 7
    step = 0

    def report(what: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(step, total, what)

    def put(phase: np.ndarray, spots: np.ndarray, what: str) -> None:
        if show is None:
            slm.show_phase(phase)
        else:
            show(phase, np.asarray(spots, dtype=np.float64).reshape(-1, 2), what)

    def show_and_snap(phase: np.ndarray, spots: np.ndarray, what: str) -> np.ndarray:
        put(phase, spots, what)
        if settle_s > 0:
            sleep(settle_s)
        return np.asarray(camera.snap(), dtype=np.float64)

    def hologram(xy: np.ndarray) -> np.ndarray:
        target = SpotTarget.from_pixels(np.asarray(xy, dtype=np.float64), shape=slm_shape)
        return np.asarray(engine.compute(target, method="wgs", iterations=iterations).phase)

    previous = slm.last_record
    try:
        background = show_and_snap(np.zeros(slm_shape, np.float32), np.zeros((0, 2)), "background")
        report("background frame")

        gx = np.unique(pts[:, 0])
        gy = np.unique(pts[:, 1])
        refs = np.array([[gx[0], gy[0]], [gx[-1], gy[0]], [gx[0], gy[-1]]])
        ref_cam = []
        for i, ref in enumerate(refs):
            spot = ref[None, :]
            frame = show_and_snap(hologram(spot), spot, f"reference spot {i + 1}") - background
            xy, _ = detect_spots(frame, max_spots=1)
            if len(xy) == 0:
                raise CalibrationError(
                    f"reference spot {i + 1} at SLM pixel ({ref[0]:.0f}, {ref[1]:.0f}) was not seen by "
                    "the camera; check the laser, the exposure, and that the grid extent lands on the camera"
                )
            ref_cam.append(xy[0])
            report(f"reference spot {i + 1}/3")
        coarse = fit_affine(refs, np.asarray(ref_cam))  # SLM → camera, exact through 3 points

        frame = show_and_snap(hologram(pts), pts, f"{grid}x{grid} grid") - background
        report(f"{grid}×{grid} grid")
        spacing_slm = float(np.min(np.diff(gx))) if len(gx) > 1 else 1.0
        scale = math.sqrt(abs(float(np.linalg.det(coarse[:, :2]))))
        spacing_cam = spacing_slm * scale
        sep = max(2, int(0.3 * spacing_cam))
        window = int(np.clip(round(0.15 * spacing_cam), 3, 6))
        detected, _ = detect_spots(frame, min_separation=sep, window=window, max_spots=4 * len(pts))
        predicted = apply_affine(coarse, pts)
        i_det, i_pred = match_points(detected, predicted, max_distance=0.4 * spacing_cam)
        need = max(6, int(math.ceil(0.6 * len(pts))))
        if len(i_det) < need:
            raise CalibrationError(
                f"only {len(i_det)} of {len(pts)} grid spots were found and matched (need {need}); "
                "raise the exposure, reduce the grid extent so it fits on the camera, or use a "
                "fluorescent slide"
            )
        cam_pts = detected[i_det]
        slm_pts = pts[i_pred]
        _, keep = reject_outliers(slm_pts, cam_pts)  # outliers judged in camera px
        cam_in, slm_in = cam_pts[keep], slm_pts[keep]
        matrix = fit_affine(cam_in, slm_in)  # camera → SLM, what the application uses
        back = apply_affine(invert_affine(matrix), slm_in)
        residual = float(np.sqrt(np.mean(np.sum((back - cam_in) ** 2, axis=1))))
        report("fit")

        cal = Calibration(
            matrix=matrix,
            slm_shape=slm_shape,  # type: ignore[arg-type]
            camera_shape=tuple(int(v) for v in camera.shape),  # type: ignore[arg-type]
            slm_id=str(slm.name),
            camera_id=str(camera.name),
            residual_px=residual,
            n_spots=int(keep.sum()),
        )
        report("done")
        return cal
    finally:  # put back what the SLM showed before (or a flat phase), also after a failure
        if restore:
            if previous is not None:
                slm.show_gray(previous.frame)
            else:
                slm.show_phase(np.zeros(slm_shape, np.float32))
