"""Calibration from the GUI: ``session.calibrate`` in its own thread, its progress in a dialog.

A calibration projects a grid of spots one by one and images each, which takes seconds: on the GUI
thread it would freeze the window. The SLM belongs to the calibration until it ends, so the caller
stops sending patterns before :meth:`CalibrationDialog.start` and resumes on :attr:`measured` or
:attr:`failed`. Saving the result and redrawing overlays is the caller's business.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QThread, pyqtSignal
from PyQt6.QtWidgets import QProgressDialog, QWidget

from holostim.errors import HolostimError


class CalibrationThread(QThread):
    """Runs ``session.calibrate`` off the GUI thread and reports progress through signals."""

    progress = pyqtSignal(int, int, str)
    done = pyqtSignal(object)
    error = pyqtSignal(str)

    def __init__(self, session: Any, grid: int) -> None:
        super().__init__()
        self.session, self.grid = session, grid

    def run(self) -> None:  # noqa: D102 - QThread override
        try:
            cal = self.session.calibrate(
                grid=self.grid, progress=lambda d, t, w="": self.progress.emit(int(d), int(t), str(w))
            )
            self.done.emit(cal)
        except Exception as exc:  # reported in the GUI; a failed calibration must not crash it
            self.error.emit(str(exc) if isinstance(exc, HolostimError) else f"{type(exc).__name__}: {exc}")


class CalibrationDialog(QProgressDialog):
    """Progress of one calibration run (no cancel: a half-measured calibration is of no use)."""

    measured = pyqtSignal(object)
    """The new calibration (the session already uses it; it is not saved yet)."""
    failed = pyqtSignal(str)
    """Why the calibration failed (the session keeps its old calibration)."""

    def __init__(self, session: Any, grid: int, parent: QWidget | None = None) -> None:
        super().__init__("Projecting the calibration grid…", "", 0, grid * grid + 2, parent)
        self.setCancelButton(None)
        self.setWindowTitle("Calibration")
        self.setMinimumDuration(0)
        self.runner = CalibrationThread(session, grid)
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
