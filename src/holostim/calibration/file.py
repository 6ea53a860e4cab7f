"""The calibration record: the fitted camera → SLM affine, what it belongs to, and its YAML file.

A calibration is only valid for the SLM and camera it was measured on, so the file records their
shapes and names beside the matrix, the date and the fit's residual; the session compares them with its
devices before it trusts a loaded file. The record also says where a camera target lands on the SLM and
why one cannot be stimulated (outside the addressable field, in the zero order).

What a loaded file may claim is checked before it is trusted; the rule is "refuse what cannot be a
measurement, or contradicts what the file itself says":

- the residual must be finite and at most :data:`MAX_RESIDUAL_PX` (NaN means no fit was measured; an RMS
  error larger than a cell body means a click would land on the wrong cell);
- a mirrored matrix (negative determinant) is physical — an odd number of mirrors in the path — so it is
  refused only when the file's own ``mirrored`` key says otherwise (the matrix was edited or damaged);
  a session that knows its optics (the simulated rig) compares it too, as it compares the camera's id;
- :meth:`Calibration.save` never replaces an existing file that is not a holostim calibration: a
  mistyped ``calibration.file: notes.txt`` must not overwrite the notes; nor does it write to a
  directory or under ``/proc``, ``/sys``, ``/dev`` (:func:`check_save_path`, which the session's
  validation and ``holostim calibrate`` ask before anything is measured).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from holostim.calibration.affine import apply_affine, invert_affine
from holostim.calibration.depth_map import DepthMap
from holostim.calibration.errors import CalibrationError, CalibrationFileError
from holostim.calibration.power_map import PowerMap
from holostim.checks import shape_pair
from holostim.files import atomic_write_text, read_small_yaml

__all__ = ["FORMAT_VERSION", "MAX_RESIDUAL_PX", "SPECIAL_ROOTS", "Calibration", "check_save_path",
           "is_calibration_file"]

FORMAT_VERSION = 3
"""Version 2 added the optional ``power_map`` (``holostim calibrate --power``), version 3 the optional
``depth_map`` (``holostim calibrate --depth``); version 1 and 2 files still load (without them)."""
READ_VERSIONS = (1, 2, 3)

MAX_RESIDUAL_PX = 10.0
"""The largest fit residual (camera px RMS) a loaded calibration may have: about one soma across at a
typical 0.5–1 µm per camera pixel, beyond which a click lands on a neighbouring cell."""


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
    power_map : PowerMap or None
        The measured diffraction-efficiency map (:mod:`~holostim.calibration.power_map`); ``None``: not
        measured, the session uses the analytic pixel envelope alone.
    depth_map : DepthMap or None
        The measured axial map (:mod:`~holostim.calibration.depth_map`); ``None``: not measured, a
        target's depth goes to the engine as it is (the defocus model's nominal depth).
    """

    matrix: np.ndarray
    slm_shape: tuple[int, int]
    camera_shape: tuple[int, int]
    date: str = field(default_factory=lambda: _utc_now())
    slm_id: str = ""
    camera_id: str = ""
    residual_px: float = float("nan")
    n_spots: int = 0
    power_map: PowerMap | None = None
    depth_map: DepthMap | None = None

    def __post_init__(self) -> None:
        m = np.asarray(self.matrix, dtype=np.float64)
        if m.shape != (2, 3) or not np.all(np.isfinite(m)):
            raise CalibrationError(f"calibration matrix must be a finite 2×3 array, got {m.tolist()}")
        self.matrix = m
        self._inverse = invert_affine(m)
        self.slm_shape = shape_pair(self.slm_shape, "slm_shape", CalibrationError)
        self.camera_shape = shape_pair(self.camera_shape, "camera_shape", CalibrationError)

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

    @property
    def mirrored(self) -> bool:
        """True when the camera → SLM map flips handedness (an odd number of mirrors in the path)."""
        return bool(np.linalg.det(self.matrix[:, :2]) < 0)

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
            "mirrored": self.mirrored,
            "residual_px": float(self.residual_px),
            "n_spots": int(self.n_spots),
            **({"power_map": self.power_map.to_dict()} if self.power_map is not None else {}),
            **({"depth_map": self.depth_map.to_dict()} if self.depth_map is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "calibration") -> Calibration:
        """Inverse of :meth:`to_dict`; errors name the missing or bad key."""
        if not isinstance(data, dict):
            raise CalibrationError(
                f"{source}: not a holostim calibration (expected a mapping of calibration keys, got "
                f"{type(data).__name__})"
            )
        if data.get("format") != "holostim-calibration":
            raise CalibrationError(
                f"{source}: not a holostim calibration (key 'format' must be 'holostim-calibration')"
            )
        if data.get("version") not in READ_VERSIONS:
            raise CalibrationError(
                f"{source}: calibration version {data.get('version')!r} is not supported "
                f"(this holostim reads versions {', '.join(map(str, READ_VERSIONS))})"
            )

        def need(path: str) -> Any:
            node: Any = data
            for part in path.split("."):
                if not isinstance(node, dict) or part not in node:
                    raise CalibrationError(f"{source}: missing key {path!r}")
                node = node[part]
            return node

        try:
            residual = need("residual_px")
            if isinstance(residual, bool) or not isinstance(residual, (int, float)) or not (
                    0 <= float(residual) <= MAX_RESIDUAL_PX):
                raise CalibrationError(
                    f"residual_px={residual!r} must be a measured fit residual, 0 to {MAX_RESIDUAL_PX:g} "
                    "camera px (NaN: never measured; larger: the fit cannot place a target on its cell); "
                    "run `holostim calibrate` again")
            cal = cls(
                matrix=np.asarray(need("camera_to_slm"), dtype=np.float64),
                slm_shape=need("slm.shape"),
                camera_shape=need("camera.shape"),
                date=str(need("date")),
                slm_id=str(data["slm"].get("id", "")),
                camera_id=str(data["camera"].get("id", "")),
                residual_px=float(residual),
                n_spots=int(need("n_spots")),
                power_map=(PowerMap.from_dict(data["power_map"], source)
                           if data.get("power_map") is not None else None),
                depth_map=(DepthMap.from_dict(data["depth_map"], source)
                           if data.get("depth_map") is not None else None),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, CalibrationError):
                raise CalibrationError(f"{source}: {exc}") from None
            raise CalibrationError(f"{source}: bad value ({exc})") from exc
        said = data.get("mirrored")
        if said is not None and said is not cal.mirrored:
            raise CalibrationError(
                f"{source}: the matrix is {'' if cal.mirrored else 'not '}mirrored (determinant "
                f"{np.linalg.det(cal.matrix[:, :2]):.3g}) but the file says mirrored: {said!r}; the matrix "
                "was edited or damaged: run `holostim calibrate` again")
        return cal

    def save(self, path: str | Path) -> Path:
        """Write the calibration as YAML (creating the folder); returns the path.

        An existing file is replaced only when it is a holostim calibration (see the module docstring).
        Written to a temporary file, fsync'd and renamed over the old one (and the folder fsync'd), so a
        crash or power cut mid-write leaves the previous calibration intact rather than a truncated file.
        """
        p = check_save_path(path)
        if not 0 <= self.residual_px <= MAX_RESIDUAL_PX:  # NaN too: load would refuse what was saved
            raise CalibrationError(
                f"cannot save a calibration with residual_px={self.residual_px!r}: it must be a measured fit "
                f"residual, 0 to {MAX_RESIDUAL_PX:g} camera px")
        text = "# holostim camera ↔ SLM calibration: camera_to_slm maps camera px (x, y, 1) → SLM px\n"
        text += yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, allow_unicode=True)
        atomic_write_text(p, text)
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
        data = _read_yaml(p)
        return cls.from_dict(data, source=f"calibration file {str(p)!r}")


SPECIAL_ROOTS = ("/proc", "/sys", "/dev")
"""Kernel and device file systems: a calibration written there goes nowhere or somewhere harmful."""


def check_save_path(path: str | Path) -> Path:
    """``path`` (user-expanded) if :meth:`Calibration.save` may write there, else a :class:`CalibrationError`.

    The rules of saving, checked before anything is measured (``holostim calibrate --out``) and when a
    session names its ``calibration.file``: not under ``/proc``, ``/sys`` or ``/dev``; not a directory or
    another non-regular file; in a folder that exists or can be created; and an existing file only when it
    is a holostim calibration (possibly an outdated one), so a mistyped name never overwrites other data.
    """
    p = Path(path).expanduser()
    real = os.path.realpath(p)
    for root in SPECIAL_ROOTS:
        if real == root or real.startswith(root + os.sep):
            raise CalibrationError(f"cannot save the calibration as {str(p)!r}: it is under {root}, a "
                                   "kernel/device file system; name an ordinary file (calibration.yaml)")
    if p.is_dir():
        raise CalibrationError(f"cannot save the calibration as {str(p)!r}: it is a directory; name a file "
                               f"in it such as {str(p / 'calibration.yaml')!r}")
    if p.exists() and not p.is_file():
        raise CalibrationError(f"cannot save the calibration as {str(p)!r}: it is not a regular file")
    folder = p.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise CalibrationError(f"cannot save the calibration as {str(p)!r}: {str(folder)!r} is a file, "
                               "not a folder")
    why = _not_a_calibration(p) if p.exists() else None
    if why is not None:
        raise CalibrationError(
            f"refusing to overwrite {str(p)!r}: it exists and is not a holostim calibration ({why}); "
            "choose another calibration.file (or move that file away)")
    return p


def _read_yaml(p: Path, where: str | None = None) -> Any:
    """The YAML content of ``p``; a binary, huge, unreadable or malformed file is a CalibrationError.

    ``where`` starts the messages (default: "calibration file '<p>'").
    """
    return read_small_yaml(p, what=where or f"calibration file {str(p)!r}", kind="a holostim calibration",
                           error=CalibrationError)[0]


def is_calibration_file(path: str | Path) -> bool:
    """True when ``path`` is a file that says it is a holostim calibration (possibly an outdated one)."""
    return _not_a_calibration(Path(path)) is None


def _not_a_calibration(p: Path) -> str | None:
    """Why ``p`` is not a file that says it is a holostim calibration, or ``None`` when it is one."""
    try:
        data = _read_yaml(p, where="it")
    except CalibrationError as exc:
        return str(exc)
    if isinstance(data, dict) and data.get("format") == "holostim-calibration":
        return None
    return "it has no 'format: holostim-calibration'"


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

