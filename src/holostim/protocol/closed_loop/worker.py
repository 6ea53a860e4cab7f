"""The readout worker: a thread fed by the camera's frame stream, off the GUI thread.

It waits for each new frame (``camera.wait_frame``), reads it out and hands the sample to its sinks
(the rules, the trace file, the GUI's queued signal). The camera keeps one slot, so a worker that falls
behind skips frames rather than building a backlog; every skipped frame shows as a gap in the camera's
counter and is counted in :attr:`ReadoutWorker.dropped`, so the loop's record says how many frames
the rules never saw.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from holostim.protocol.closed_loop.readout import DffReadout, TraceSample

__all__ = ["ReadoutWorker"]

log = logging.getLogger(__name__)


class ReadoutWorker:
    """Reads out every frame of ``camera`` it can keep up with; ``sinks`` get each sample in order.

    A failing camera or sink ends the thread; ``on_error`` is told (the run then aborts, gate first).
    """

    def __init__(self, camera: object, readout: DffReadout, sinks: list[Callable[[TraceSample], None]],
                 on_error: Callable[[BaseException], None] | None = None):
        self.camera = camera
        self.on_error = on_error
        self.readout = readout
        self.sinks = list(sinks)
        self.frames = 0
        self.dropped = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = 0

    def start(self) -> None:
        """Start the thread (the camera must be streaming)."""
        latest = self.camera.latest()  # type: ignore[attr-defined]
        self._last = latest.counter if latest is not None else 0
        self._thread = threading.Thread(target=self._run, name="holostim-readout", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the frame in hand."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.camera.wait_frame(self._last, timeout=0.1)  # type: ignore[attr-defined]
                if frame is None:
                    continue
                if self._last:
                    self.dropped += max(0, frame.counter - self._last - 1)
                self._last = frame.counter
                sample = self.readout.process(frame.image, frame.timestamp, frame.counter)
                self.frames += 1
                for sink in self.sinks:
                    sink(sample)
        except BaseException as exc:  # noqa: BLE001 - the loop's owner sees it and stops the run
            log.exception("the closed-loop readout stopped")
            self.error = exc
            if self.on_error is not None:
                self.on_error(exc)
