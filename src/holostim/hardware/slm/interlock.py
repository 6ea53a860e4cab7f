"""The laser interlock's watchdog: tells listeners every change of "may the laser see the SLM".

The permit itself is a pure function of the SLM's state and the time (``SLM.interlock_state``); what
needs a thread is *hearing* it go off when nothing happens — a display that stalls sends no event.
So the watchdog sleeps until the exact moment the last swap goes stale (or a display event wakes it),
re-evaluates, and calls the listeners on a change.  Time comes from an injectable clock, so a test can
move the clock past the deadline and wake the watchdog instead of sleeping and measuring.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["InterlockWatchdog"]

log = logging.getLogger("holostim.slm")


class InterlockWatchdog:
    """Calls ``callback(permitted, reason)`` on every change of ``state()``, from its own daemon thread.

    A change is a new permit or, while off, a new reason (reasons are stable texts, not running counts).

    Parameters
    ----------
    state : ``() -> (permitted, reason)``, safe to call from any thread.
    deadline : ``() -> t | None``: the clock time at which the current permit goes stale (None: no
        deadline, e.g. nothing shown yet).
    finished : ``() -> bool``: True once the device is closed; the thread reports that last state and ends.
    clock : the monotonic clock ``deadline`` is on (``time.monotonic`` unless a test injects one).
    name : thread name.

    The thread also wakes every ``POLL_S`` seconds (a safety net for a state change that forgot to call
    :meth:`wake`), and ``SLACK_S`` after the deadline so rounding never wakes it just before.
    """

    POLL_S = 0.25
    SLACK_S = 5e-4

    def __init__(
        self,
        state: Callable[[], tuple[bool, str]],
        deadline: Callable[[], float | None],
        finished: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
        name: str = "slm-interlock",
    ):
        self._state = state
        self._deadline = deadline
        self._finished = finished
        self._clock = clock
        self._name = name
        self._listeners: list[Callable[[bool, str], None]] = []
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        # One pass at a time, from the thread or from :meth:`check` on a caller's thread, so the
        # listeners hear every change once and in order; reentrant, a listener may ask for a pass.
        self._pass = threading.RLock()
        #: The permit the listeners last heard (None before the first pass).
        self.reported: bool | None = None
        self._heard: tuple[bool, str] | None = None

    def add_listener(self, callback: Callable[[bool, str], None]) -> Callable[[], None]:
        """Call ``callback`` now with the current state and on every change; returns its remover."""
        self._listeners.append(callback)
        ok, reason = self._state()
        self._call(callback, ok, reason)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        self._wake.set()

        def remove() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return remove

    def wake(self) -> None:
        """Re-evaluate now (call on every display event and state change)."""
        self._wake.set()

    def check(self) -> float:
        """One pass: evaluate, tell the listeners on a change; returns seconds until the next pass.

        Callable from any thread: a caller that must know the listeners have heard the state *now*
        (the session after showing a frame) runs a pass itself instead of assuming what they heard.
        """
        with self._pass:
            ok, reason = self._state()
            if (ok, reason) != self._heard:  # a new reason while off is news too: the banner says why
                self._heard = (ok, reason)
                self.reported = ok
                for cb in list(self._listeners):
                    self._call(cb, ok, reason)
        timeout = self.POLL_S
        if ok:
            t = self._deadline()
            if t is not None:
                timeout = min(timeout, max(0.0, t - self._clock()) + self.SLACK_S)
        return timeout

    def stop(self, timeout: float = 1.0) -> None:
        """Wake the thread for its last pass (the device must report ``finished``) and wait for it."""
        self._wake.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=timeout)

    def _run(self) -> None:
        while True:
            self._wake.clear()
            timeout = self.check()
            if self._finished():
                return
            self._wake.wait(timeout)

    @staticmethod
    def _call(cb: Callable[[bool, str], None], ok: bool, reason: str) -> None:
        try:
            cb(ok, reason)
        except Exception:  # a listener must never stop the watchdog
            log.exception("interlock listener %r failed", cb)
