"""The send flow: which target set is computed, when it goes to the SLM, and what is said about it.

In auto mode every change of the accepted targets is computed and shown at once (the worker keeps only
the newest waiting set, so the SLM never lags behind a backlog of stale patterns). In manual mode a
change waits for :meth:`SendController.send`; nothing is computed for it meanwhile, so the previews and
the status keep describing the pattern that is on the SLM (a preview of the edit, shown in the same
docks, made the status, the previews and the table describe three different sets).

The set last sent is remembered so that an unchanged set is not computed again; it is forgotten
whenever the SLM shows something else (a test pattern), the calibration or the engine settings change,
so the next change or Send puts the targets back. :attr:`SendController.on_slm` is the set the SLM shows
now (empty while it shows a test pattern); the view and the table draw the edits against it. Refused
targets never get here: the store only hands out accepted ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from holostim.gui.formatting import percent
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
    """Every :class:`ComputeOutcome` that reached the SLM (for the preview docks)."""
    resultShown = pyqtSignal(object)
    """Emitted on the GUI thread with each ``ApplyResult`` that reached the SLM."""
    slmChanged = pyqtSignal(object)
    """The tuple of targets the SLM's pattern now lights (empty: a test pattern)."""
    message = pyqtSignal(str, bool, float)
    """(text, error, t_request) for the status bar; ``t_request`` is the ``time.monotonic()`` of the request
    the message answers, so the window can tell an old result's report from news."""
    unsentChanged = pyqtSignal(bool)
    """Whether the SLM does not show the current targets, so that Send would change it (in manual mode
    after an edit; in either mode after a test pattern or a refused pattern)."""
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
        self.on_slm: tuple = ()

    # -- session -------------------------------------------------------------------------------------
    def attach(self, session: Any) -> None:
        """Compute for ``session``; its empty target set needs no pattern until a target is added."""
        self.session = session
        self._start_worker()
        self._last_sent = ()
        self._set_on_slm(())

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
        if on:
            self.targets_changed()
        self._emit_unsent()

    def forget_sent(self) -> None:
        """The last set sent must be computed again (e.g. new engine settings): the next change or Send."""
        self._last_sent = None

    def slm_replaced(self) -> None:
        """The SLM shows something else (a test pattern): no target is lit now."""
        self.forget_sent()
        self._set_on_slm(())
        self._emit_unsent()

    def targets_changed(self) -> None:
        """The accepted targets may have changed: show them (auto) or wait for Send (manual)."""
        if self.session is None or self.worker is None:
            return
        if self.auto and tuple(self.store.accepted()) != self._last_sent:
            self._submit(tuple(self.store.accepted()))
        self._emit_unsent()

    def send(self) -> None:
        """Compute the current (accepted) targets and show them on the SLM."""
        self._submit(tuple(self.store.accepted()))
        self._emit_unsent()

    def _emit_unsent(self) -> None:
        self.unsentChanged.emit(tuple(self.store.accepted()) != self._last_sent)

    def _set_on_slm(self, targets: tuple) -> None:
        self.on_slm = tuple(targets)
        self.slmChanged.emit(self.on_slm)

    def _submit(self, targets: tuple) -> None:
        if self.worker is None:
            return
        self._last_sent = targets
        self.worker.submit(list(targets), show=True, preview=self.wants_preview(),
                           request_time=time.monotonic())

    # -- what came back ------------------------------------------------------------------------------
    def _on_outcome(self, outcome: ComputeOutcome) -> None:
        if not outcome.shown:
            return  # not on the SLM: nothing the window shows describes it
        r = outcome.result
        self.last_result = r
        self.shown_count += 1
        if self._superseded(r):
            return  # a test pattern or a newer pattern replaced it before this report arrived
        self.outcome.emit(outcome)
        self._set_on_slm(tuple(r.targets))
        if not r.targets:
            self.message.emit("no targets: the SLM shows a flat phase (light stays in the zero order)", False,
                              r.t_request)
        else:
            m, c2s = r.metrics, r.click_to_swap_ms
            lat = "" if c2s is None else f", click→swap {c2s:.0f} ms"
            planes = len({float(getattr(t, "z_um", 0.0)) for t in r.targets})
            where = f" on {planes} planes" if planes > 1 else ""  # a 3-D pattern says so
            self.message.emit(
                f"sent {len(r.targets)} spots{where}: efficiency {percent(m.efficiency)}, "
                f"uniformity {percent(m.uniformity)}{lat}",
                False,
                r.t_request,
            )
        self.resultShown.emit(r)

    def _superseded(self, result: Any) -> bool:
        # The report is queued from the worker: by the time it is read the SLM may show something else.
        slm_frame = getattr(getattr(self.session, "slm", None), "last_frame", None)
        if slm_frame is None or result.frame is None:
            return False
        return not np.array_equal(slm_frame, result.frame)

    def _on_failed(self, request: ComputeRequest, reason: str) -> None:
        if request.show:
            self._last_sent = None  # nothing new reached the SLM: Send may try again
            self._emit_unsent()
        self.message.emit(f"pattern refused: {reason}", True, time.monotonic())
