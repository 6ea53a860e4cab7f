"""Camera pixel ↔ SLM Fourier-plane pixel calibration: an affine transform fitted from projected spots.

Users click on the camera image; the engine places spots in SLM Fourier-plane pixels (zero order at
``(N//2, N//2)``). Between the two sit the relay optics, the objective and the camera mount, which
together are — to the accuracy that matters for somata — an affine map: rotation, scale, shear, offset
and possibly a mirror. :func:`run_calibration` measures it: the engine computes a grid of spots, the SLM
shows it, the camera snaps it (minus a background frame), spots are found with sub-pixel centroids,
matched to the grid, outliers are rejected and a least-squares affine is fitted. Three single reference
spots shown first fix the coarse orientation, so rotations of any angle and mirrored set-ups are matched
correctly (a square grid alone cannot tell a 90° turn or a flip).

This module is pure: numpy, scipy and yaml, never Qt.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from holostim.errors import HolostimError

__all__ = [
    "Calibration",
    "CalibrationError",
    "CalibrationFileError",
    "FORMAT_VERSION",
    "apply_affine",
    "detect_spots",
    "fit_affine",
    "grid_points",
    "invert_affine",
    "match_points",
    "reject_outliers",
    "run_calibration",
]

FORMAT_VERSION = 1
ProgressFn = Callable[[int, int, str], None]


class CalibrationError(HolostimError, ValueError):
    """A calibration that cannot be fitted, used or read (too few spots, degenerate, bad file content)."""


class CalibrationFileError(HolostimError, FileNotFoundError):
    """A calibration file that does not exist."""


# ============================================================================ affine algebra
def _as_xy(xy: Any, name: str = "xy") -> np.ndarray:
    a = np.asarray(xy, dtype=np.float64)
    if a.ndim == 1 and a.shape[0] == 2:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != 2:
        raise CalibrationError(f"{name} must be an (N, 2) array of (x, y) positions, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise CalibrationError(f"{name} contains NaN or infinite positions")
    return a


def apply_affine(matrix: np.ndarray, xy: Any) -> np.ndarray:
    """Map ``(N, 2)`` points ``(x, y)`` through a 2×3 affine ``matrix``: ``M[:, :2] @ p + M[:, 2]``."""
    p = _as_xy(xy)
    m = np.asarray(matrix, dtype=np.float64)
    return p @ m[:, :2].T + m[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The 2×3 inverse of a 2×3 affine map (raises :class:`CalibrationError` if it is singular)."""
    m = np.asarray(matrix, dtype=np.float64)
    a = m[:, :2]
    det = float(np.linalg.det(a))
    if not math.isfinite(det) or abs(det) < 1e-12:
        raise CalibrationError(f"the affine matrix {m.tolist()} is singular (determinant {det:g})")
    ai = np.linalg.inv(a)
    return np.hstack([ai, -(ai @ m[:, 2])[:, None]])


def fit_affine(src: Any, dst: Any) -> np.ndarray:
    """Least-squares 2×3 affine ``M`` with ``dst ≈ M @ [src, 1]``.

    Needs at least three points that are not on one line (otherwise the map is undetermined).
    """
    s = _as_xy(src, "src")
    d = _as_xy(dst, "dst")
    if len(s) != len(d):
        raise CalibrationError(f"fit_affine needs matching point lists, got {len(s)} and {len(d)} points")
    if len(s) < 3:
        raise CalibrationError(f"fit_affine needs at least 3 point pairs, got {len(s)}")
    design = np.hstack([s, np.ones((len(s), 1))])
    centred = s - s.mean(axis=0)
    sv = np.linalg.svd(centred, compute_uv=False)
    if sv[-1] <= 1e-9 * max(sv[0], 1.0):
        raise CalibrationError(
            f"the {len(s)} calibration points lie on a line; an affine map needs points spread in 2-D"
        )
    coef, *_ = np.linalg.lstsq(design, d, rcond=None)
    return coef.T.copy()


# ============================================================================ spots
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


def detect_spots(
    image: np.ndarray,
    *,
    sigma: float = 1.0,
    window: int = 4,
    min_separation: int = 4,
    rel_threshold: float = 0.15,
    snr: float = 8.0,
    max_spots: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bright spots in a (background-subtracted) image with sub-pixel intensity-weighted centroids.

    Peaks are local maxima of the Gaussian-smoothed image above both ``rel_threshold`` × its maximum and
    ``snr`` robust noise deviations above its median, at least ``min_separation`` px apart; each centroid
    is taken on the unsmoothed image in a ``(2 window + 1)²`` box around the peak, after subtracting the
    median of the box's rim and clipping at zero.

    Returns
    -------
    xy : ndarray, shape (M, 2)
        Centroids ``(x, y)`` in pixels, brightest first.
    flux : ndarray, shape (M,)
        Summed intensity in each box.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise CalibrationError(f"detect_spots needs a 2-D image, got shape {img.shape}")
    pos = np.clip(img, 0, None)
    smooth = ndimage.gaussian_filter(pos, sigma) if sigma > 0 else pos
    med = float(np.median(smooth))
    mad = 1.4826 * float(np.median(np.abs(smooth - med)))
    peak = float(smooth.max())
    threshold = max(med + snr * mad, med + rel_threshold * (peak - med))
    if peak <= threshold:
        return np.empty((0, 2)), np.empty(0)
    local_max = ndimage.maximum_filter(smooth, size=2 * min_separation + 1, mode="constant")
    ys, xs = np.nonzero((smooth == local_max) & (smooth > threshold))
    order = np.argsort(-smooth[ys, xs], kind="stable")
    ys, xs = ys[order], xs[order]
    # A flat (saturated) top gives several equal maxima: keep the brightest of any closer than
    # min_separation.
    kept: list[tuple[int, int]] = []
    for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
        if all((y - ky) ** 2 + (x - kx) ** 2 > min_separation**2 for ky, kx in kept):
            kept.append((y, x))
            if max_spots is not None and len(kept) >= max_spots:
                break
    h, w = img.shape
    out, flux = [], []
    for y, x in kept:
        y0, y1 = max(0, y - window), min(h, y + window + 1)
        x0, x1 = max(0, x - window), min(w, x + window + 1)
        box = img[y0:y1, x0:x1]
        # Local background: the median of the box's rim, so an offset or a dim neighbour does not pull
        # the centroid towards the box centre.
        rim = np.concatenate([box[0], box[-1], box[1:-1, 0], box[1:-1, -1]])
        box = np.clip(box - float(np.median(rim)), 0, None)
        total = float(box.sum())
        if total <= 0:
            continue
        cy, cx = ndimage.center_of_mass(box)
        out.append((x0 + cx, y0 + cy))
        flux.append(total)
    order = np.argsort(-np.asarray(flux), kind="stable")
    xy = np.asarray(out, dtype=np.float64).reshape(-1, 2)[order]
    return xy, np.asarray(flux)[order]


def match_points(detected: Any, predicted: Any, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of detected to predicted points (Hungarian assignment, gated by distance).

    Returns index arrays ``(i_detected, i_predicted)`` of the accepted pairs.
    """
    d = _as_xy(detected, "detected") if len(detected) else np.empty((0, 2))
    p = _as_xy(predicted, "predicted")
    if len(d) == 0:
        return np.empty(0, int), np.empty(0, int)
    cost = np.hypot(d[:, None, 0] - p[None, :, 0], d[:, None, 1] - p[None, :, 1])
    big = 1e6 + cost.max()
    rows, cols = linear_sum_assignment(np.where(cost <= max_distance, cost, big))
    ok = cost[rows, cols] <= max_distance
    return rows[ok], cols[ok]


def reject_outliers(
    src: np.ndarray, dst: np.ndarray, *, floor_px: float = 0.75, k: float = 4.0, min_points: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``src → dst`` and drop the worst pair while it is an outlier; return ``(matrix, inlier_mask)``.

    A pair is an outlier when its residual exceeds both ``floor_px`` and ``k`` robust standard deviations
    (1.4826 × the median absolute residual) of the current fit. One pair is removed at a time because a
    single bad match skews the whole least-squares fit.
    """
    s = _as_xy(src, "src")
    d = _as_xy(dst, "dst")
    keep = np.ones(len(s), bool)
    while True:
        m = fit_affine(s[keep], d[keep])
        res = np.hypot(*(apply_affine(m, s) - d).T)
        kept = np.flatnonzero(keep)
        if len(kept) <= min_points:
            return m, keep
        robust = 1.4826 * float(np.median(res[kept]))
        worst = kept[np.argmax(res[kept])]
        if res[worst] > max(floor_px, k * robust):
            keep[worst] = False
            continue
        return m, keep


# ============================================================================ the record
@dataclass
class Calibration:
    """The fitted camera → SLM affine, with what it belongs to and how good it is.

    Parameters
    ----------
    matrix : ndarray, shape (2, 3)
        Camera pixel ``(x, y)`` → SLM Fourier-plane pixel ``(x, y)``.
    slm_shape, camera_shape : tuple of int
        ``(height, width)`` of the SLM and the camera it was measured with.
    date : str
        ISO 8601 time of the measurement (UTC).
    slm_id, camera_id : str
        Identifiers of the devices (a calibration is only valid for the pair it was measured on).
    residual_px : float
        RMS distance in camera pixels between detected spots and the fitted grid.
    n_spots : int
        Spots used in the fit (after outlier rejection).
    """

    matrix: np.ndarray
    slm_shape: tuple[int, int]
    camera_shape: tuple[int, int]
    date: str = field(default_factory=lambda: _utc_now())
    slm_id: str = ""
    camera_id: str = ""
    residual_px: float = float("nan")
    n_spots: int = 0

    def __post_init__(self) -> None:
        m = np.asarray(self.matrix, dtype=np.float64)
        if m.shape != (2, 3) or not np.all(np.isfinite(m)):
            raise CalibrationError(f"calibration matrix must be a finite 2×3 array, got {m.tolist()}")
        self.matrix = m
        self._inverse = invert_affine(m)
        self.slm_shape = _shape2("slm_shape", self.slm_shape)
        self.camera_shape = _shape2("camera_shape", self.camera_shape)

    # -------------------------------------------------------------- mapping
    @property
    def inverse(self) -> np.ndarray:
        """The 2×3 SLM → camera matrix."""
        return self._inverse.copy()

    def camera_to_slm(self, xy: Any) -> np.ndarray:
        """Camera pixels ``(N, 2)`` → SLM Fourier-plane pixels ``(N, 2)``."""
        return apply_affine(self.matrix, xy)

    def slm_to_camera(self, xy: Any) -> np.ndarray:
        """SLM Fourier-plane pixels ``(N, 2)`` → camera pixels ``(N, 2)``."""
        return apply_affine(self._inverse, xy)

    @property
    def zero_order_slm(self) -> np.ndarray:
        """The zero order ``(x, y)`` in SLM Fourier pixels: ``(N//2, N//2)``."""
        return np.array([self.slm_shape[1] // 2, self.slm_shape[0] // 2], dtype=np.float64)

    def zero_order_camera(self) -> np.ndarray:
        """Where the zero order falls on the camera, ``(x, y)`` (for drawing the exclusion zone)."""
        return self.slm_to_camera(self.zero_order_slm)[0]

    def field_outline_camera(self, margin_px: float = 0.0) -> np.ndarray:
        """Corners ``(4, 2)`` of the SLM's addressable field on the camera (for drawing it)."""
        ny, nx = self.slm_shape
        lo, hx, hy = margin_px, nx - 1 - margin_px, ny - 1 - margin_px
        return self.slm_to_camera([[lo, lo], [hx, lo], [hx, hy], [lo, hy]])

    def scale_camera_per_slm(self) -> float:
        """Mean camera pixels per SLM Fourier pixel (√|det| of the SLM → camera map)."""
        return math.sqrt(abs(float(np.linalg.det(self._inverse[:, :2]))))

    def check_targets(
        self, xy_camera: Any, zero_order_radius_px: float, margin_px: float = 0.0
    ) -> list[str | None]:
        """Why each camera target cannot be stimulated, or ``None`` where it can.

        Targets are flagged, never moved: silently shifting a target would stimulate the wrong cell.

        Parameters
        ----------
        xy_camera : array_like, shape (N, 2)
            Targets in camera pixels.
        zero_order_radius_px : float
            Exclusion radius around the zero order, in SLM Fourier pixels.
        margin_px : float
            Keep this many SLM Fourier pixels away from the edge of the addressable field.
        """
        if not (math.isfinite(zero_order_radius_px) and zero_order_radius_px >= 0):
            raise CalibrationError(f"zero_order_radius_px={zero_order_radius_px!r} must be ≥ 0")
        if not (math.isfinite(margin_px) and margin_px >= 0):
            raise CalibrationError(f"margin_px={margin_px!r} must be ≥ 0")
        pts = np.asarray(xy_camera, dtype=np.float64).reshape(-1, 2)
        if len(pts) == 0:
            return []
        slm = self.camera_to_slm(pts)
        ny, nx = self.slm_shape
        zx, zy = self.zero_order_slm
        reasons: list[str | None] = []
        for (cx, cy), (sx, sy) in zip(pts, slm, strict=True):
            if not (margin_px <= sx <= nx - 1 - margin_px and margin_px <= sy <= ny - 1 - margin_px):
                reasons.append(
                    f"camera ({cx:.1f}, {cy:.1f}) is outside the SLM's addressable field: SLM pixel "
                    f"({sx:.1f}, {sy:.1f}) not within [{margin_px:g}, {nx - 1 - margin_px:g}] × "
                    f"[{margin_px:g}, {ny - 1 - margin_px:g}]"
                )
                continue
            r = math.hypot(sx - zx, sy - zy)
            if r < zero_order_radius_px:
                reasons.append(
                    f"camera ({cx:.1f}, {cy:.1f}) is inside the zero-order exclusion: {r:.1f} SLM px from "
                    f"the zero order, closer than {zero_order_radius_px:g} px"
                )
                continue
            reasons.append(None)
        return reasons

    # -------------------------------------------------------------- files
    def to_dict(self) -> dict[str, Any]:
        """Plain types for YAML (and the stimulation log header)."""
        return {
            "format": "holostim-calibration",
            "version": FORMAT_VERSION,
            "date": self.date,
            "slm": {"id": self.slm_id, "shape": list(self.slm_shape)},
            "camera": {"id": self.camera_id, "shape": list(self.camera_shape)},
            "camera_to_slm": [[float(v) for v in row] for row in self.matrix],
            "residual_px": float(self.residual_px),
            "n_spots": int(self.n_spots),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "calibration") -> Calibration:
        """Inverse of :meth:`to_dict`; errors name the missing or bad key."""
        if not isinstance(data, dict):
            raise CalibrationError(
                f"{source}: expected a mapping of calibration keys, got {type(data).__name__}"
            )
        if data.get("format") != "holostim-calibration":
            raise CalibrationError(
                f"{source}: not a holostim calibration (key 'format' must be 'holostim-calibration')"
            )
        if data.get("version") != FORMAT_VERSION:
            raise CalibrationError(
                f"{source}: calibration version {data.get('version')!r} is not supported "
                f"(expected {FORMAT_VERSION})"
            )

        def need(path: str) -> Any:
            node: Any = data
            for part in path.split("."):
                if not isinstance(node, dict) or part not in node:
                    raise CalibrationError(f"{source}: missing key {path!r}")
                node = node[part]
            return node

        try:
            return cls(
                matrix=np.asarray(need("camera_to_slm"), dtype=np.float64),
                slm_shape=need("slm.shape"),
                camera_shape=need("camera.shape"),
                date=str(need("date")),
                slm_id=str(data["slm"].get("id", "")),
                camera_id=str(data["camera"].get("id", "")),
                residual_px=float(need("residual_px")),
                n_spots=int(need("n_spots")),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, CalibrationError):
                raise CalibrationError(f"{source}: {exc}") from None
            raise CalibrationError(f"{source}: bad value ({exc})") from exc

    def save(self, path: str | Path) -> Path:
        """Write the calibration as YAML (creating the folder); returns the path.

        Written to a temporary file and renamed over the old one, so a crash mid-write leaves the previous
        calibration intact rather than a truncated file.
        """
        p = Path(path).expanduser()
        p.parent.mkdir(parents=True, exist_ok=True)
        text = "# holostim camera ↔ SLM calibration: camera_to_slm maps camera px (x, y, 1) → SLM px\n"
        text += yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, allow_unicode=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)
        return p

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        """Read a calibration written by :meth:`save`."""
        p = Path(path).expanduser()
        if not p.is_file():
            raise CalibrationFileError(
                f"calibration file {str(p)!r} does not exist; run `holostim calibrate --config SESSION` "
                "or fix calibration.file in the session"
            )
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise CalibrationError(f"calibration file {str(p)!r} is not valid YAML: {exc}") from exc
        return cls.from_dict(data, source=f"calibration file {str(p)!r}")


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _shape2(name: str, value: Any) -> tuple[int, int]:
    try:
        t = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise CalibrationError(f"{name}={value!r} must be (height, width) in pixels") from None
    if len(t) != 2 or min(t) <= 0:
        raise CalibrationError(f"{name}={value!r} must be two positive integers (height, width)")
    return t  # type: ignore[return-value]


# ============================================================================ the procedure
def run_calibration(
    engine: Any,
    slm: Any,
    camera: Any,
    *,
    grid: int = 5,
    extent: float = 0.5,
    zero_order_radius_px: float = 3.0,
    iterations: int = 10,
    settle_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: ProgressFn | None = None,
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
        settle time constants (``settle_ms`` or ``tau_ms`` attribute), at least 0.05 s.
    sleep : callable
        How to wait (``time.sleep``; a simulated clock's advance in tests).
    progress : callable or None
        ``progress(done, total, what)`` after each step.

    Raises
    ------
    CalibrationError
        Bad grid/extent, a reference spot not found, or too few grid spots matched (the message says
        how many and what to change: exposure, extent, spot visibility).
    """
    from holostim.holography import SpotTarget

    slm_shape = tuple(int(v) for v in slm.shape)
    engine_shape = tuple(int(v) for v in getattr(engine, "shape", slm_shape))
    if engine_shape != slm_shape:
        raise CalibrationError(
            f"the engine computes {engine_shape[0]}×{engine_shape[1]} masks but the SLM is "
            f"{slm_shape[0]}×{slm_shape[1]}; build the engine with shape=slm.shape"
        )
    pts = grid_points(slm_shape, grid, extent, zero_order_radius_px)  # validates grid/extent first
    if settle_s is None:  # a liquid crystal settles to 1e-4 in ~10 time constants
        tau_ms = getattr(slm, "settle_ms", None) or getattr(slm, "tau_ms", None) or 0.0
        settle_s = max(0.05, 10.0 * float(tau_ms) / 1000.0)
    total = 7
    step = 0

    def report(what: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(step, total, what)

    def show_and_snap(phase: np.ndarray) -> np.ndarray:
        slm.show_phase(phase)
        if settle_s > 0:
            sleep(settle_s)
        return np.asarray(camera.snap(), dtype=np.float64)

    def hologram(xy: np.ndarray) -> np.ndarray:
        target = SpotTarget.from_pixels(np.asarray(xy, dtype=np.float64), shape=slm_shape)
        return np.asarray(engine.compute(target, method="wgs", iterations=iterations).phase)

    previous = getattr(slm, "last_record", None)
    try:
        background = show_and_snap(np.zeros(slm_shape, np.float32))
        report("background frame")

        gx = np.unique(pts[:, 0])
        gy = np.unique(pts[:, 1])
        refs = np.array([[gx[0], gy[0]], [gx[-1], gy[0]], [gx[0], gy[-1]]])
        ref_cam = []
        for i, ref in enumerate(refs):
            frame = show_and_snap(hologram(ref[None, :])) - background
            xy, _ = detect_spots(frame, max_spots=1)
            if len(xy) == 0:
                raise CalibrationError(
                    f"reference spot {i + 1} at SLM pixel ({ref[0]:.0f}, {ref[1]:.0f}) was not seen by "
                    "the camera; check the laser, the exposure, and that the grid extent lands on the camera"
                )
            ref_cam.append(xy[0])
            report(f"reference spot {i + 1}/3")
        coarse = fit_affine(refs, np.asarray(ref_cam))  # SLM → camera, exact through 3 points

        frame = show_and_snap(hologram(pts)) - background
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
            slm_id=str(getattr(slm, "name", type(slm).__name__)),
            camera_id=str(getattr(camera, "name", type(camera).__name__)),
            residual_px=residual,
            n_spots=int(keep.sum()),
        )
        report("done")
        return cal
    finally:  # put back what the SLM showed before (or a flat phase), also after a failure
        restore = getattr(slm, "show_gray", None)
        if previous is not None and restore is not None:
            restore(previous.frame)
        else:
            slm.show_phase(np.zeros(slm_shape, np.float32))
