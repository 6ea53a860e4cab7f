"""Calibration from the GUI: the session's measurement in its own thread, its progress in a dialog.

Two kinds (:data:`KINDS`, offered by :func:`ask_kind`): the camera ↔ SLM affine (``"affine"``, the
spot grid) and the axial map (``"depth"``: a focus sweep of spots on a slide, which needs the affine
first and a camera whose focus holostim can move).

A calibration projects a grid of spots one by one and images each, which takes seconds: on the GUI
thread it would freeze the window. The SLM belongs to the calibration until it ends, so the caller
stops sending patterns before :meth:`CalibrationDialog.start` and resumes on :attr:`measured` or
:attr:`failed`. Saving the result and redrawing overlays is the caller's business.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QThread, pyqtSignal
from PyQt6.QtWidgets import QInputDialog, QProgressDialog, QWidget

from holostim.errors import HolostimError

KINDS = {"affine": "Camera ↔ SLM (spot grid)", "depth": "Depth (focus sweep on a slide)"}
"""The calibrations the dialog runs, by kind, with the label a user chooses from."""

DEPTH_GRID = 3
"""Spots per side of the depth sweep (as ``holostim calibrate --depth``): few, bright, far apart."""


def ask_kind(parent: QWidget | None = None) -> str | None:
    """Ask which calibration to run (:data:`KINDS`); ``None`` when the user cancels."""
    labels = list(KINDS.values())
    label, ok = QInputDialog.getItem(parent, "Calibration", "Measure:", labels, 0, False)
    if not ok:
        return None
    return next(k for k, v in KINDS.items() if v == label)


class CalibrationThread(QThread):
    """Runs ``session.calibrate`` (``kind="depth"``: ``calibrate_depth``) off the GUI thread."""

    progress = pyqtSignal(int, int, str)
    done = pyqtSignal(object)
    error = pyqtSignal(str)

    def __init__(self, session: Any, grid: int, kind: str = "affine") -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"calibration kind {kind!r} is not one of {', '.join(KINDS)}")
        self.session, self.grid, self.kind = session, grid, kind

    def run(self) -> None:  # noqa: D102 - QThread override
        def report(d: int, t: int, w: str = "") -> None:
            self.progress.emit(int(d), int(t), str(w))

        try:
            if self.kind == "depth":
                cal = self.session.calibrate_depth(grid=self.grid, progress=report)
            else:
                cal = self.session.calibrate(grid=self.grid, progress=report)
            self.done.emit(cal)
        except Exception as exc:  # reported in the GUI; a failed calibration must not crash it
            self.error.emit(str(exc) if isinstance(exc, HolostimError) else f"{type(exc).__name__}: {exc}")


class CalibrationDialog(QProgressDialog):
    """Progress of one calibration run (no cancel: a half-measured calibration is of no use)."""

    measured = pyqtSignal(object)
    """The new calibration (the session already uses it; it is not saved yet)."""
    failed = pyqtSignal(str)
    """Why the calibration failed (the session keeps its old calibration)."""

    def __init__(self, session: Any, grid: int, parent: QWidget | None = None, kind: str = "affine") -> None:
        depth = kind == "depth"
        if depth:
            grid = DEPTH_GRID
        text = "Sweeping the focus through the spot grid…" if depth else "Projecting the calibration grid…"
        super().__init__(text, "", 0, grid * grid + 2, parent)
        self.setCancelButton(None)
        self.setWindowTitle("Depth calibration" if depth else "Calibration")
        self.setMinimumDuration(0)
        self.kind = kind
        self.runner = CalibrationThread(session, grid, kind)
        self.runner.progress.connect(self._progress)
        self.runner.done.connect(self._done)
        self.runner.error.connect(self._failed)

    def start(self) -> None:
        """Start measuring and show the dialog."""
        self.runner.start()
        self.show()

    def _progress(self, done: int, total: int, what: str) -> None:
        self.setMaximum(max(total, 1))
        self.setValue(done)
        self.setLabelText(what or f"step {done} of {total}")

    def _done(self, cal: Any) -> None:
        self.runner.wait()  # run() has returned or is returning: never drop a running QThread
        self.close()
        self.measured.emit(cal)

    def _failed(self, reason: str) -> None:
        self.runner.wait()
        self.close()
        self.failed.emit(reason)
