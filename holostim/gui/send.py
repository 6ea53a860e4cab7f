"""The send flow: which target set is computed, when it goes to the SLM, and what is said about it.

In auto mode every change of the accepted targets is computed and shown at once (the worker keeps only
the newest waiting set, so the SLM never lags behind a backlog of stale patterns). In manual mode a
change is computed as a preview only and :meth:`SendController.send` shows it. The set last sent is
remembered so that an unchanged set is not computed again; it is forgotten whenever the SLM shows
something else (a test pattern, a calibration) or the engine settings change, so the next change or
Send puts the targets back. Refused targets never get here: the store only hands out accepted ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from holostim.gui.target_store import TargetStore
from holostim.gui.workers import ComputeOutcome, ComputeRequest, ComputeWorker


class SendController(QObject):
    """Drives a :class:`ComputeWorker` for the targets of a :class:`TargetStore`.

    Parameters
    ----------
    store:
        The targets being edited.
    wants_preview:
        Asked at each request whether the predicted focus should be computed too (its dock is shown).
    """

    outcome = pyqtSignal(object)
    """Every :class:`ComputeOutcome`, shown or preview only (for the preview docks)."""
    resultShown = pyqtSignal(object)
    """Emitted on the GUI thread with each ``ApplyResult`` that reached the SLM."""
    message = pyqtSignal(str, bool, float)
    """(text, error, t_request) for the status bar; ``t_request`` is the ``time.monotonic()`` of the request
    the message answers, so the window can tell an old result's report from news."""
    unsentChanged = pyqtSignal(bool)
    """Whether there is a change that only Send would put on the SLM (manual mode)."""
    busyChanged = pyqtSignal(bool)
    """The worker started (True) or ran out of (False) work."""

    def __init__(self, store: TargetStore, wants_preview: Callable[[], bool] = lambda: True) -> None:
        super().__init__()
        self.store = store
        self.wants_preview = wants_preview
        self.session: Any = None
        self.worker: ComputeWorker | None = None
        self.auto = True
        self.last_result: Any = None
        self.shown_count = 0
        self._last_sent: tuple | None = None

    # -- session -------------------------------------------------------------------------------------
    def attach(self, session: Any) -> None:
        """Compute for ``session``; its empty target set needs no pattern until a target is added."""
        self.session = session
        self._start_worker()
        self._last_sent = ()

    def detach(self) -> None:
        """Stop computing (the session is about to close)."""
        self.pause()
        self.session = None

    def pause(self) -> None:
        """Drop waiting work, finish the running pattern and stop (e.g. while calibrating)."""
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def resume(self) -> None:
        """Compute again after :meth:`pause`."""
        if self.session is not None and self.worker is None:
            self._start_worker()

    def _start_worker(self) -> None:
        self.worker = ComputeWorker(self.session)
        self.worker.finished.connect(self._on_outcome)
        self.worker.failed.connect(self._on_failed)
        self.worker.busyChanged.connect(self.busyChanged)

    # -- what to send --------------------------------------------------------------------------------
    def set_auto(self, on: bool) -> None:
        """Auto mode: every change goes to the SLM; manual mode: only :meth:`send` does."""
        self.auto = on
        self.unsentChanged.emit(not on and tuple(self.store.accepted()) != self._last_sent)
        if on:
            self.targets_changed()

    def forget_sent(self) -> None:
        """The SLM no longer shows the last set sent: the next change or Send computes it again."""
        self._last_sent = None

    def targets_changed(self) -> None:
        """The accepted targets may have changed: show them (auto) or preview them (manual)."""
        if self.session is None or self.worker is None:
            return
        accepted = tuple(self.store.accepted())
        if self.auto:
            if accepted != self._last_sent:
                self._submit(accepted, show=True)
        else:
            unsent = accepted != self._last_sent
            self.unsentChanged.emit(unsent)
            if unsent and accepted:
                self._submit(accepted, show=False)  # preview only; Send puts it on the SLM

    def send(self) -> None:
        """Compute the current (accepted) targets and show them on the SLM."""
        self._submit(tuple(self.store.accepted()), show=True)
        self.unsentChanged.emit(False)

    def _submit(self, targets: tuple, show: bool) -> None:
        if self.worker is None:
            return
        if show:
            self._last_sent = targets
        self.worker.submit(list(targets), show=show, preview=self.wants_preview(),
                           request_time=time.monotonic())

    # -- what came back ------------------------------------------------------------------------------
    def _on_outcome(self, outcome: ComputeOutcome) -> None:
        self.outcome.emit(outcome)
        r = outcome.result
        if not outcome.shown:
            self.message.emit(f"preview of {len(r.targets)} spots ready; press Send (Ctrl+Return)", False,
                              r.t_request)
            return
        self.last_result = r
        self.shown_count += 1
        if not r.targets:
            self.message.emit("no targets: the SLM shows a flat phase (light stays in the zero order)", False,
                              r.t_request)
        else:
            m, c2s = r.metrics, r.click_to_swap_ms
            lat = "" if c2s is None else f", click→swap {c2s:.0f} ms"
            self.message.emit(
                f"sent {len(r.targets)} spots: efficiency {100 * float(m.efficiency):.0f} %, "
                f"uniformity {100 * float(m.uniformity):.0f} %{lat}",
                False,
                r.t_request,
            )
        self.resultShown.emit(r)

    def _on_failed(self, request: ComputeRequest, reason: str) -> None:
        if request.show:
            self._last_sent = None  # nothing new reached the SLM
        self.message.emit(f"pattern refused: {reason}", True, time.monotonic())
