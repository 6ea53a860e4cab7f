"""Measuring the axial map: at known focus positions, the SLM defocus that brings a spot grid into focus.

What a rig can do: its focus drive (the imaging path's z stage, a substage camera's stage or a tunable
lens — whatever moves the imaged plane without moving the SLM's focal volume) reads out its position in
true µm, but each move is slow (a mechanical settle), while the SLM changes its defocus in one frame.
So the procedure moves the focus a few times and sweeps the SLM many times: at each known focus
position ``d`` (``depths_um``, true µm from the camera's focal plane) it shows a sparse spot grid on a
thin fluorescent slide with a series of nominal defocus depths ``z`` (the session's defocus model) and
finds the ``z`` that makes the spots sharpest on the camera.
:func:`~holostim.calibration.depth_map.fit_depth_map` fits ``d = scale · z + offset`` to those points.

Each frame is the grid's lateral hologram (computed once, in the focal plane) plus the defocus phase
of ``z``: a grid whose spots all lie at one depth is exactly its 2-D hologram moved by that defocus.
Sharpness is the mean over the spots of ``Σ I² / (Σ I)²`` in a box around each (background-subtracted,
rim median removed): 1 for all light in one pixel, falling as the spot spreads, whatever the laser
power. The sweep is coarse (steps of half the axial resolution, across the range the optics could put
the focus), then fine (a third of a coarse step around the best), and the peak is the vertex of a
parabola through ``log`` sharpness of the fine points above half the best (a focus's axial profile is
close to Gaussian near its peak).

Needs the camera ↔ SLM calibration (where the spots land) and an engine with a defocus model. Every
frame is put on the SLM by ``show`` — a session passes its own, through the gate and the log — and the
focus is moved by ``set_focus``. Waiting is injectable.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from holostim.calibration.depth_map import DepthMap, fit_depth_map
from holostim.calibration.errors import CalibrationError
from holostim.calibration.file import Calibration
from holostim.calibration.procedure import ProgressFn, ShowFn, grid_points

if TYPE_CHECKING:
    from holostim.hardware.camera import CameraProtocol
    from holostim.hardware.slm import SLMProtocol
    from holostim.holography import HologramEngine

__all__ = ["DepthMeasurement", "effective_axial_resolution_um", "measure_depth_map", "sharpness"]


class DepthMeasurement:
    """What one depth calibration measured: per focus position, the sweep, its best focus, and the line."""

    def __init__(self, depths_um: np.ndarray, best_nominal_um: np.ndarray,
                 sweeps: list[tuple[np.ndarray, np.ndarray]], depth_map: DepthMap,
                 axial_resolution_um: float):
        self.depths_um = depths_um
        self.best_nominal_um = best_nominal_um
        self.sweeps = sweeps  # (nominal z, sharpness) of each focus position, coarse and fine together
        self.depth_map = depth_map
        self.axial_resolution_um = axial_resolution_um


def effective_axial_resolution_um(defocus: object, shape: Sequence[int]) -> float:
    """The axial size of a spot this SLM makes: the defocus model's NA, or less where the SLM underfills it.

    The SLM's half-width ``N p / 2`` reaches the sample at ``NA = (N p / 2) M / f``; with the smaller of
    that and the objective's NA, ``λ / (n − sqrt(n² − NA²))``.
    """
    from holostim.optics.defocus import axial_resolution_um

    d = defocus
    half = 0.5 * min(int(v) for v in shape) * float(d.pitch_um)
    na = min(float(d.objective_na), half * float(d.magnification) / float(d.focal_length_um),
             0.99 * float(d.medium_index))
    return axial_resolution_um(float(d.wavelength_um), na, float(d.medium_index))


def sharpness(image: np.ndarray, xy: np.ndarray, r: int) -> float:
    """Mean over the points of ``Σ I² / (Σ I)²`` in a ``(2r+1)²`` box (rim median removed, negatives 0)."""
    h, w = image.shape
    vals = []
    for x, y in xy:
        cx, cy = int(round(x)), int(round(y))
        y0, y1, x0, x1 = cy - r, cy + r + 1, cx - r, cx + r + 1
        if y0 < 0 or x0 < 0 or y1 > h or x1 > w:
            continue
        box = image[y0:y1, x0:x1]
        rim = np.concatenate([box[0], box[-1], box[1:-1, 0], box[1:-1, -1]])
        box = np.clip(box - np.median(rim), 0.0, None)
        total = float(box.sum())
        if total > 0:
            vals.append(float((box**2).sum()) / total**2)
    return float(np.mean(vals)) if vals else 0.0


def _peak(z: np.ndarray, s: np.ndarray) -> float:
    """The vertex of a parabola through ``log s`` of the points above half the best (the best if < 3)."""
    i = int(np.argmax(s))
    keep = s >= 0.5 * s[i]
    if keep.sum() < 3:  # a peak narrower than the steps: take the best and its neighbours
        keep = np.zeros(len(s), bool)
        keep[max(0, i - 1): i + 2] = True
    zk, lk = z[keep], np.log(s[keep])
    if len(zk) < 3:
        return float(z[i])
    a, b, _ = np.polyfit(zk, lk, 2)
    if a >= 0:
        return float(z[i])
    v = -b / (2 * a)
    return float(np.clip(v, zk.min(), zk.max()))


def measure_depth_map(
    engine: HologramEngine,
    slm: SLMProtocol,
    camera: CameraProtocol,
    calibration: Calibration,
    *,
    set_focus: Callable[[float], object],
    depths_um: Sequence[float] | None = None,
    grid: int = 3,
    extent: float = 0.6,
    zero_order_radius_px: float = 3.0,
    search_um: float | None = None,
    iterations: int = 20,
    snaps: int = 2,
    settle_s: float | None = None,
    focus_settle_s: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: ProgressFn | None = None,
    show: ShowFn | None = None,
) -> DepthMeasurement:
    """Step the focus through ``depths_um``, sweep the SLM defocus at each, fit the axial map.

    ``depths_um``: the focus positions (true µm; default five from −4 to +4 axial resolutions, at most
    ±50 µm); ``search_um``: how far from ``d`` the nominal depth is searched (default 15 % of ``|d|``
    plus two axial resolutions: a scale off by 15 % and an offset of two resolutions are found).
    ``grid`` spots per side over ``extent`` of the field; ``snaps`` camera frames averaged per step.
    The focus is left at the last position: the caller restores its own.

    Raises
    ------
    CalibrationError
        No defocus model, fewer than three focus positions, or no spot seen at a focus position.
    """
    from holostim.holography import SpotTarget

    defocus = getattr(engine, "defocus", None)
    if defocus is None:
        raise CalibrationError("depth calibration needs the engine's defocus model: set optics.objective_na "
                               "below optics.medium_index (3-D targets need it too)")
    shape = tuple(int(v) for v in slm.shape)
    axial = effective_axial_resolution_um(defocus, shape)
    if depths_um is None:
        reach = min(4.0 * axial, 50.0)
        depths_um = np.linspace(-reach, reach, 5)
    depths = np.asarray([float(d) for d in depths_um], dtype=np.float64)
    if len(depths) < 3 or len(np.unique(depths)) < 3 or not np.all(np.isfinite(depths)):
        raise CalibrationError(f"depths_um={list(depths)!r}: the fit needs at least three distinct focus "
                               "positions")
    if isinstance(snaps, bool) or not isinstance(snaps, int) or snaps < 1:
        raise CalibrationError(f"snaps={snaps!r} must be a positive integer (camera frames per step)")
    if settle_s is None:
        settle_s = max(0.05, 10.0 * float(slm.settle_ms) / 1000.0)
    pts = grid_points(shape, grid, extent, zero_order_radius_px)
    cam = calibration.slm_to_camera(pts)
    spacing_cam = float(np.min(np.diff(np.unique(pts[:, 0])))) * calibration.scale_camera_per_slm()
    r = int(np.clip(math.floor(0.4 * spacing_cam), 3, 12))
    lateral = np.asarray(engine.compute(SpotTarget.from_pixels(pts, shape=shape), method="wgs",
                                        iterations=iterations).phase, dtype=np.float64)
    coarse_step = axial / 2.0

    def put_and_snap(z_nominal: float, what: str) -> np.ndarray:
        phase = np.mod(lateral + defocus.phase(z_nominal, shape), 2 * np.pi).astype(np.float32)
        spots = np.column_stack([pts, np.full(len(pts), z_nominal)])
        if show is None:
            slm.show_phase(phase)
        else:
            show(phase, spots, what)
        if settle_s > 0:
            sleep(settle_s)
        return np.mean([np.asarray(camera.snap(), dtype=np.float64) for _ in range(snaps)], axis=0)

    best, sweeps = [], []
    total = len(depths) + 1
    for k, d in enumerate(depths):
        set_focus(float(d))
        if focus_settle_s > 0:
            sleep(focus_settle_s)
        half = search_um if search_um is not None else 0.15 * abs(d) + 2.0 * axial
        n = max(5, int(math.ceil(2 * half / coarse_step)) + 1)
        zs = list(np.linspace(d - half, d + half, n))
        step = 2 * half / (n - 1)
        ss = [sharpness(put_and_snap(z, f"depth: focus {d:+.1f} µm, z {z:+.2f}"), cam, r) for z in zs]
        zc = zs[int(np.argmax(ss))]
        if max(ss) <= 0:
            raise CalibrationError(f"depth calibration: no spot seen at focus {d:+.1f} µm; check "
                                   "calibration.laser_power_mw (the laser is blocked without it), the "
                                   "exposure and that the slide is under the objective")
        for z in np.linspace(zc - step, zc + step, 7):
            if any(abs(z - q) < 1e-9 for q in zs):
                continue
            zs.append(float(z))
            ss.append(sharpness(put_and_snap(float(z), f"depth: focus {d:+.1f} µm, z {z:+.2f}"), cam, r))
        order = np.argsort(zs)
        z_arr, s_arr = np.asarray(zs)[order], np.asarray(ss)[order]
        near = np.abs(z_arr - zc) <= step + 1e-9  # the fine window around the coarse best
        best.append(_peak(z_arr[near], s_arr[near]))
        sweeps.append((z_arr, s_arr))
        if progress is not None:
            progress(k + 1, total, f"focus {d:+.1f} µm: best nominal depth {best[-1]:+.2f} µm")
    dm = fit_depth_map(depths, best, getattr(defocus, "model", "high_na"))
    if progress is not None:
        progress(total, total, "fit")
    return DepthMeasurement(depths, np.asarray(best), sweeps, dm, axial)
