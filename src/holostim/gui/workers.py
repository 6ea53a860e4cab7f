"""Work that must never run on the GUI thread: phase computation and camera frame delivery.

:class:`ComputeWorker` runs the session's compute/show in its own ``QThread``. Requests are coalesced:
the GUI may submit a new target set at every click or drag step, but only the newest waiting set is
computed when the worker becomes free, so the SLM never lags behind a backlog of stale patterns.

:class:`FramePump` polls the camera's latest frame in its own thread and forwards a frame only when the
GUI has finished drawing the previous one; frames that arrive meanwhile are dropped, never queued.

Both talk to the GUI only through queued signals.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from PyQt6.QtCore import QObject, QThread, QTimer, pyqtSignal, pyqtSlot

from holostim.backend import to_numpy
from holostim.errors import HolostimError
from holostim.threads import lower_current_thread_priority

COMPUTE_NICE = 4
"""Nice value of the compute thread (Linux): the GUI thread always gets the CPU when it needs it."""


@dataclass(frozen=True)
class ComputeRequest:
    """One target set to compute; ``show`` sends it to the SLM (and the log), otherwise preview only."""

    targets: tuple[Any, ...]
    request_time: float
    show: bool = True
    preview: bool = True
    serial: int = 0


@dataclass(frozen=True)
class ComputeOutcome:
    """What the worker hands back: the session's ``ApplyResult``, its SLM frame and predicted focus.

    ``frame`` is the uint8 frame that was shown, or for a preview the frame the SLM *would* show (its
    own phase→gray pipeline, run here off the GUI thread).
    """

    request: ComputeRequest
    result: Any
    frame: Any
    predicted: Any | None
    shown: bool


class ComputeWorker(QObject):
    """Runs ``session.apply`` / ``session.compute`` off the GUI thread, newest request wins.

    Use :meth:`submit` from the GUI thread; results come back through :attr:`finished` and
    :attr:`failed` as queued signals. :attr:`skipped` counts requests that were superseded before they
    started (coalesced).
    """

    finished = pyqtSignal(object)
    """A :class:`ComputeOutcome`."""
    failed = pyqtSignal(object, str)
    """(request, reason): the session refused the pattern or computing it failed."""
    busyChanged = pyqtSignal(bool)
    _wake = pyqtSignal()

    def __init__(self, session: Any) -> None:
        super().__init__()
        self.session = session
        self._lock = threading.Lock()
        self._pending: ComputeRequest | None = None
        self._serial = 0
        self.skipped = 0
        self.completed = 0
        self._busy = False
        self._niced = False
        self._thread = QThread()
        self._thread.setObjectName("holostim-compute")
        self.moveToThread(self._thread)
        self._wake.connect(self._drain)
        self._thread.start()

    # -- GUI thread ----------------------------------------------------------------------------------
    def submit(
        self,
        targets: list[Any],
        *,
        show: bool = True,
        preview: bool = True,
        request_time: float | None = None,
    ) -> int:
        """Queue ``targets`` for computing (replacing any waiting request); returns its serial number."""
        with self._lock:
            self._serial += 1
            if self._pending is not None:
                self.skipped += 1
            self._pending = ComputeRequest(
                tuple(targets),
                time.monotonic() if request_time is None else request_time,
                show=show,
                preview=preview,
                serial=self._serial,
            )
            serial = self._serial
        self._wake.emit()
        return serial

    @property
    def idle(self) -> bool:
        """True when nothing is waiting or running."""
        with self._lock:
            return self._pending is None and not self._busy

    def stop(self, timeout_ms: int = 10_000) -> None:
        """Drop any waiting request, finish the running one and end the thread."""
        with self._lock:
            self._pending = None
        self._thread.quit()
        self._thread.wait(timeout_ms)

    # -- worker thread -------------------------------------------------------------------------------
    @pyqtSlot()
    def _lower_priority(self) -> None:
        # Compute must yield the CPU to the GUI thread: on a 2-core machine the FFT threads would
        # otherwise starve it. Threads the engine starts from here (FFTW, numba) inherit the nice value.
        self._thread.setPriority(QThread.Priority.LowPriority)  # Windows, macOS
        lower_current_thread_priority(COMPUTE_NICE)  # Linux: per thread, relative to the process's

    @pyqtSlot()
    def _drain(self) -> None:
        if not self._niced:
            self._niced = True
            self._lower_priority()
        while True:
            with self._lock:
                req, self._pending = self._pending, None
                if req is None:
                    if self._busy:
                        self._busy = False
                        self.busyChanged.emit(False)
                    return
                if not self._busy:
                    self._busy = True
                    self.busyChanged.emit(True)
            self._run(req)

    def _run(self, req: ComputeRequest) -> None:
        targets = list(req.targets)
        try:
            if req.show:
                result = self.session.apply(targets, request_time=req.request_time)
                frame = result.frame
            else:
                result = self.session.compute(targets, request_time=req.request_time)
                frame = to_numpy(self.session.slm.phase_to_gray(result.phase))
            predicted = self.session.predicted_intensity(result.phase) if req.preview else None
        except HolostimError as exc:
            self.failed.emit(req, str(exc))
            return
        except Exception as exc:  # a bug must not kill the worker thread silently
            self.failed.emit(req, f"{type(exc).__name__}: {exc}")
            return
        self.completed += 1
        self.finished.emit(ComputeOutcome(req, result, frame, predicted, req.show))


class FramePump(QObject):
    """Polls ``camera.latest()`` off the GUI thread; forwards only frames the GUI is ready for."""

    frameReady = pyqtSignal(object, int)
    """(frame, counter)."""
    failed = pyqtSignal(str)
    """The camera stopped delivering (its acquisition thread died); emitted once per error."""
    _start = pyqtSignal()

    def __init__(self, camera: Any, poll_ms: int = 5) -> None:
        super().__init__()
        self.camera = camera
        self.poll_ms = poll_ms
        self._last = -1
        self._ready = threading.Event()
        self._ready.set()
        self.dropped = 0
        self.delivered = 0
        self._error: str | None = None
        self._timer: QTimer | None = None
        self._thread = QThread()
        self._thread.setObjectName("holostim-frames")
        self.moveToThread(self._thread)
        self._start.connect(self._begin)
        self._thread.start()
        self._start.emit()

    def ack(self) -> None:
        """Called by the GUI after it drew a frame: the next one may come."""
        self._ready.set()

    def stop(self, timeout_ms: int = 5000) -> None:
        """End polling and the thread (the camera itself is the session's to stop)."""
        self._thread.quit()
        self._thread.wait(timeout_ms)

    @pyqtSlot()
    def _begin(self) -> None:
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._poll)
        self._timer.start(self.poll_ms)

    @pyqtSlot()
    def _poll(self) -> None:
        try:
            latest = self.camera.latest()
        except HolostimError as exc:
            if str(exc) != self._error:
                self._error = str(exc)
                self.failed.emit(self._error)
            return
        if latest is None:
            return
        frame, counter = latest[0], int(latest[1])
        if counter == self._last:
            return
        if not self._ready.is_set():
            return  # the GUI is still drawing; this frame will be stale (counted as dropped) by then
        if self._last >= 0 and counter > self._last + 1:
            self.dropped += counter - self._last - 1
        self._last = counter
        self._ready.clear()
        self.delivered += 1
        self.frameReady.emit(frame, counter)
