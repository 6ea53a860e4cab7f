"""The calibration record: the fitted camera → SLM affine, what it belongs to, and its YAML file.

A calibration is only valid for the SLM and camera it was measured on, so the file records their
shapes and names beside the matrix, the date and the fit's residual; the session compares them with its
devices before it trusts a loaded file. The record also says where a camera target lands on the SLM and
why one cannot be stimulated (outside the addressable field, in the zero order).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from holostim.calibration.affine import apply_affine, invert_affine
from holostim.calibration.errors import CalibrationError, CalibrationFileError
from holostim.checks import shape_pair
from holostim.files import atomic_write_text

__all__ = ["FORMAT_VERSION", "Calibration"]

FORMAT_VERSION = 1


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

        Written to a temporary file, fsync'd and renamed over the old one (and the folder fsync'd), so a
        crash or power cut mid-write leaves the previous calibration intact rather than a truncated file.
        """
        p = Path(path).expanduser()
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
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise CalibrationError(f"calibration file {str(p)!r} is not valid YAML: {exc}") from exc
        return cls.from_dict(data, source=f"calibration file {str(p)!r}")


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

