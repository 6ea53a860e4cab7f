"""Camera pixel ↔ SLM Fourier-plane pixel calibration: an affine transform fitted from projected spots.

Users click on the camera image; the engine places spots in SLM Fourier-plane pixels (zero order at
``(N//2, N//2)``). :func:`run_calibration` (:mod:`~holostim.calibration.procedure`) measures the map
between the two with the rig's own SLM and camera, using the affine algebra of
:mod:`~holostim.calibration.affine` and the spot finding of :mod:`~holostim.calibration.spots`;
:class:`Calibration` (:mod:`~holostim.calibration.file`) holds the result and reads and writes its file.

Pure: numpy, scipy and yaml, never Qt.
"""

from holostim.calibration.affine import apply_affine, fit_affine, invert_affine
from holostim.calibration.errors import CalibrationError, CalibrationFileError
from holostim.calibration.file import FORMAT_VERSION, Calibration, check_save_path
from holostim.calibration.procedure import grid_points, run_calibration
from holostim.calibration.spots import detect_spots, match_points, reject_outliers

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
    "check_save_path",
    "run_calibration",
]
