"""Imaging ↔ camera registration: an affine from ≥ 3 landmark pairs, its residual, its YAML file.

The ROIs of an analysis live in the imaging frame (the two-photon scan, another camera, a binned or
cropped movie); targets live in holostim's camera pixels. Between the two is — to the accuracy that
matters for somata — an affine map, fitted by least squares (:func:`holostim.calibration.affine.fit_affine`)
from landmarks the user finds in both images. The RMS residual over the landmarks, in camera pixels,
says how far a target may land from its cell; with exactly three landmarks the fit is exact and the
residual 0 says nothing, so four or more are worth clicking.

The file (``imaging_to_camera.yaml``)::

    format: holostim-registration
    version: 1
    imaging_to_camera: [[a, b, tx], [c, d, ty]]   # camera (x, y) = M @ (x, y, 1) of the imaging px
    residual_px: 0.42
    landmarks: {imaging: [[x, y], ...], camera: [[x, y], ...]}

A file with only ``landmarks`` (typed by hand, or written by another tool) is fitted when loaded. With
both, the matrix is used and the residual recomputed from the landmarks; a stored ``residual_px`` that
disagrees means the file was edited or damaged and is refused. A wrong key names the file and line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from holostim.calibration.affine import apply_affine, as_xy, fit_affine, invert_affine
from holostim.calibration.errors import CalibrationError
from holostim.files import atomic_write_text, read_small_yaml
from holostim.interop.errors import InteropError

__all__ = ["FORMAT", "Registration", "fit_registration"]

FORMAT = "holostim-registration"
VERSION = 1
_KEYS = ("format", "version", "imaging_to_camera", "residual_px", "landmarks")


@dataclass(frozen=True)
class Registration:
    """An imaging → camera affine with its residual.

    ``matrix`` is 2×3, ``residual_px`` the RMS over the landmarks in camera px (NaN when the file gave
    none), ``imaging_xy``/``camera_xy`` the landmarks it was fitted from (``(N, 2)`` each, or ``None``).
    """

    matrix: np.ndarray
    residual_px: float
    imaging_xy: np.ndarray | None = field(default=None, compare=False, repr=False)
    camera_xy: np.ndarray | None = field(default=None, compare=False, repr=False)

    def apply(self, xy: Any) -> np.ndarray:
        """Imaging px ``(N, 2)`` → camera px ``(N, 2)``."""
        return apply_affine(self.matrix, xy)

    def inverse(self) -> np.ndarray:
        """The camera → imaging affine (2×3), e.g. to draw targets on the mean image."""
        return invert_affine(self.matrix)

    def to_dict(self) -> dict[str, Any]:
        """The file's content (see the module docstring)."""
        d: dict[str, Any] = {"format": FORMAT, "version": VERSION,
                             "imaging_to_camera": [[float(v) for v in row] for row in self.matrix],
                             "residual_px": None if math.isnan(self.residual_px) else float(self.residual_px)}
        if self.imaging_xy is not None and self.camera_xy is not None:
            d["landmarks"] = {"imaging": self.imaging_xy.tolist(), "camera": self.camera_xy.tolist()}
        return d

    def save(self, path: str | Path) -> Path:
        """Write the YAML file all at once; an existing file that is not a registration is never replaced."""
        p = Path(path).expanduser()
        if p.is_dir():
            raise InteropError(f"cannot save the registration as {str(p)!r}: it is a folder; name a file "
                               f"such as {str(p / 'imaging_to_camera.yaml')!r}")
        if p.exists():
            try:
                old = _read_yaml(p)[0]
            except InteropError:
                old = None
            if not (isinstance(old, dict) and old.get("format") == FORMAT):
                raise InteropError(f"refusing to overwrite {str(p)!r}: it exists and is not a holostim "
                                   "registration; choose another file name")
        text = "# holostim imaging → camera registration: camera (x, y) = M @ (x, y, 1) in imaging px\n"
        text += yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)
        return atomic_write_text(p, text)

    @classmethod
    def load(cls, path: str | Path) -> Registration:
        """Read a file written by :meth:`save`, or one holding only ``landmarks`` (fitted here)."""
        p = Path(path).expanduser()
        where = f"registration file {str(p)!r}"
        if not p.is_file():
            raise InteropError(f"{where} does not exist")
        data, lines = _read_yaml(p)
        if not isinstance(data, dict):
            raise InteropError(f"{where} must be a mapping with imaging_to_camera and/or landmarks")
        for key in data:
            if key not in _KEYS:
                raise InteropError(f"{p}:{lines.get(key, 1)}: {key}: unknown key "
                                   f"(allowed: {', '.join(_KEYS)})")

        def at(key: str) -> str:
            return f"{p}:{lines.get(key, 1)}: {key}"

        if data.get("format", FORMAT) != FORMAT:
            raise InteropError(f"{at('format')}: {data['format']!r} is not {FORMAT!r}")
        if data.get("version", VERSION) != VERSION:
            raise InteropError(f"{at('version')}: version {data['version']!r} is not {VERSION}, which this "
                               "holostim reads")
        imaging = camera = None
        if "landmarks" in data:
            lm = data["landmarks"]
            if not isinstance(lm, dict) or set(lm) != {"imaging", "camera"}:
                raise InteropError(f"{at('landmarks')}: must be "
                                   "{imaging: [[x, y], ...], camera: [[x, y], ...]}")
            try:
                imaging, camera = as_xy(lm["imaging"], "imaging"), as_xy(lm["camera"], "camera")
            except (CalibrationError, TypeError, ValueError) as exc:
                raise InteropError(f"{at('landmarks')}: {exc}") from None
        if "imaging_to_camera" not in data:
            if imaging is None:
                raise InteropError(f"{where} has neither imaging_to_camera nor landmarks")
            try:
                return fit_registration(imaging, camera)
            except InteropError as exc:
                raise InteropError(f"{at('landmarks')}: {exc}") from None
        try:
            m = np.asarray(data["imaging_to_camera"], dtype=np.float64)
        except (TypeError, ValueError):
            m = np.zeros(0)
        if m.shape != (2, 3) or not np.all(np.isfinite(m)):
            raise InteropError(f"{at('imaging_to_camera')}: must be a 2×3 matrix of finite numbers")
        try:
            invert_affine(m)
        except CalibrationError as exc:
            raise InteropError(f"{at('imaging_to_camera')}: {exc}") from None
        stored = data.get("residual_px")
        if stored is not None and (isinstance(stored, bool) or not isinstance(stored, (int, float))
                                   or not math.isfinite(stored) or stored < 0):
            raise InteropError(f"{at('residual_px')}: {stored!r} must be a number ≥ 0")
        if imaging is None:
            return cls(m, math.nan if stored is None else float(stored))
        if len(imaging) != len(camera):
            raise InteropError(f"{at('landmarks')}: {len(imaging)} imaging and {len(camera)} camera points")
        residual = _rms(m, imaging, camera)
        if stored is not None and abs(residual - stored) > 1e-3 + 1e-6 * residual:
            raise InteropError(f"{at('residual_px')}: says {stored:g} px but the landmarks give "
                               f"{residual:g} px with this matrix; the file was edited or damaged")
        return cls(m, residual, imaging, camera)


def fit_registration(imaging_xy: Any, camera_xy: Any) -> Registration:
    """The least-squares imaging → camera affine of ≥ 3 landmark pairs, with its RMS residual."""
    try:
        s, d = as_xy(imaging_xy, "imaging landmarks"), as_xy(camera_xy, "camera landmarks")
        m = fit_affine(s, d)
    except CalibrationError as exc:
        raise InteropError(f"cannot fit the registration: {exc}") from None
    return Registration(m, _rms(m, s, d), s, d)


def _rms(m: np.ndarray, s: np.ndarray, d: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((apply_affine(m, s) - d) ** 2, axis=1))))


def _read_yaml(p: Path) -> tuple[Any, dict[str, int]]:
    """The YAML content of ``p`` and the line of each top-level key."""
    return read_small_yaml(p, what=f"registration file {str(p)!r}", kind="a registration file",
                           error=InteropError)
