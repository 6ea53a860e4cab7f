"""``holostim run-protocol``: run a stimulation protocol headless, with a progress bar and a safe abort.

With the protocol's ``export_nwb: FILE.nwb`` the log is exported to NWB once the session has closed
(its last record written), completed or aborted, when any light went.

Exit statuses: 0 when every step ran; 2 for bad input (the protocol or session file, a refused pattern:
nothing was shown); 1 when the run was aborted (Ctrl+C, SIGTERM, a missing trigger, a log or device
failure), with the reason printed. An abort closes the laser gate first, from the signal handler itself,
then the runner writes its ``protocol_end`` record and the session its ``session_end``.

The run happens on a worker thread: the main thread stays free for signal handlers (Python runs them
only there) and, for an OpenGL SLM, for the Qt events that make the window swap.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from holostim.cli.defaults import default_config
from holostim.cli.display import require_display
from holostim.cli.errors import EXIT_FAIL, EXIT_OK
from holostim.cli.progress import Progress

__all__ = ["cmd_run_protocol"]

_SIGNALS = {signal.SIGINT: "Ctrl+C (SIGINT)", signal.SIGTERM: "SIGTERM"}


class _RunBar:
    """Prints the run's progress: once per step done (and on state changes), not on every event."""

    def __init__(self, total: int, trials: int):
        self.bar = Progress("protocol")
        self.total, self.trials = total, trials
        self._last: tuple[str, int] | None = None

    def __call__(self, p: Any) -> None:
        key = ("done", p.done) if p.done >= self.total else (p.state, p.done)
        if key == self._last or p.state in ("preparing", "ready"):
            return
        self._last = key
        if p.done >= self.total:
            self.bar(p.done, self.total, "done")
            return
        parts = [f"step {p.done + 1}/{self.total}"]
        if p.trial is not None:
            parts.append(f"trial {p.trial + 1}/{self.trials}")
        if p.pattern:
            parts.append(str(p.pattern))
        if p.time_left_s is not None:
            parts.append(f"{p.time_left_s:.0f} s left")
        if p.state in ("waiting", "paused") and p.message:
            parts.append(p.message)
        self.bar(p.done, self.total, " · ".join(parts))


def _run_with_signals(run: Any, work: Callable[[], Any], *, here: bool = False) -> Any:
    """``work()`` with SIGINT/SIGTERM aborting the run (gate first) instead of killing the process.

    ``here``: call ``work`` on this thread (it keeps this thread responsive itself, e.g. by running Qt's
    events beside a worker); otherwise on a worker thread, joined in short slices so the handlers run.
    """
    def on_signal(signum: int, _frame: object) -> None:
        run.abort(f"{_SIGNALS.get(signum, f'signal {signum}')} received")

    old = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    on_main = threading.current_thread() is threading.main_thread()
    if on_main:
        for sig in _SIGNALS:
            signal.signal(sig, on_signal)
    try:
        if here:
            return work()
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = work()
            except BaseException as exc:  # handed to this thread
                box["error"] = exc

        worker = threading.Thread(target=target, name="holostim-protocol", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.05)  # short joins: the signal handlers run between them
        if "error" in box:
            raise box["error"]
        return box["value"]
    finally:
        if on_main:
            for sig, handler in old.items():
                signal.signal(sig, handler)


def cmd_run_protocol(args: argparse.Namespace) -> int:
    """Prepare every pattern of a protocol, then run it on the session's rig; print the outcome."""
    from holostim.config import load_config
    from holostim.protocol.model import load_protocol
    from holostim.protocol.runner import ProtocolRun
    from holostim.session import Session

    protocol = load_protocol(args.protocol)
    config = args.config or default_config()
    cfg = load_config(config)
    opengl = cfg.slm.backend == "opengl"
    if opengl:
        require_display("run-protocol")
        from holostim.hardware.slm.opengl.qt_loop import qt_application, run_beside_qt_events

        _app = qt_application()  # noqa: F841 - keep it alive while the window is shown
    if protocol.closed_loop is not None:
        return _run_closed_loop(protocol, config, args.protocol, opengl)
    with Session.open(config, progress=Progress("calibrating the simulated rig")) as session:
        run = ProtocolRun(session, protocol, source=args.protocol)
        run.prepare(progress=Progress(f"preparing {protocol.name!r}"))
        seed = f", seed {run.plan.seed}" if run.plan.seed is not None else ""
        print(f"protocol {protocol.name!r}: {len(run.plan.steps)} steps, {run.plan.total_ms / 1e3:.1f} s, "
              f"trigger {run.plan.trigger}{seed}", file=sys.stderr)
        run.add_listener("progress", _RunBar(len(run.plan.steps), protocol.schedule.repetitions))
        if opengl:  # this thread runs the Qt events that swap the window; the run goes beside them
            outcome, reason = _run_with_signals(run, lambda: run_beside_qt_events(run.run), here=True)
        else:
            outcome, reason = _run_with_signals(run, run.run)
        log_path = session.log.path
    opened = sum(1 for t in run.times if t.t_gate_open is not None)
    if protocol.export_nwb is not None and opened:  # also after an abort: the light that went is recorded
        from holostim.interop.nwb_export import export_nwb

        print(f"protocol: exported to NWB {export_nwb(log_path, protocol.export_nwb)}", file=sys.stderr)
    if outcome == "completed":
        print(f"protocol completed: {len(run.times)} steps, gate opened {opened} times; log {log_path}")
        return EXIT_OK
    print(f"holostim: protocol aborted after {len(run.times)} of {len(run.plan.steps)} steps: {reason}; "
          f"the gate is closed; log {log_path}", file=sys.stderr)
    return EXIT_FAIL


def _run_closed_loop(protocol: Any, config: Any, source: str, opengl: bool) -> int:
    """A protocol with a ``closed_loop`` section: its rules on the camera's frames for ``duration_ms``."""
    from holostim.protocol.closed_loop.run import ClosedLoopRun
    from holostim.protocol.errors import ProtocolError
    from holostim.session import Session

    if protocol.closed_loop.rois.kind == "imported":
        raise ProtocolError("closed_loop.rois.source: imported names the ROIs imported in the GUI; on the "
                            "command line give rois.file (the ROI file itself)")
    with Session.open(config, progress=Progress("calibrating the simulated rig")) as session:
        rois, masks = protocol.closed_loop.rois, None
        if rois.file is not None:  # the protocol takes masks; reading an analysis's file is interop's
            from holostim.interop.masks import masks_from_file

            masks = masks_from_file(rois.file, tuple(session.camera.shape), format=rois.format,
                                    registration=rois.registration)
        run = ClosedLoopRun(session, protocol, source=source, masks=masks)
        run.prepare()
        cl = protocol.closed_loop
        print(f"protocol {protocol.name!r}: closed loop, {len(cl.rules)} rules on {len(run.rois)} ROIs, "
              f"{cl.duration_ms / 1e3:.1f} s", file=sys.stderr)
        if opengl:
            from holostim.hardware.slm.opengl.qt_loop import run_beside_qt_events

            outcome, reason = _run_with_signals(run, lambda: run_beside_qt_events(run.run), here=True)
        else:
            outcome, reason = _run_with_signals(run, run.run)
        log_path = session.log.path
    shown = sum(a.outcome == "shown" for a in run.actions)
    frames, dropped = run.worker.frames, run.worker.dropped
    summary = (f"{len(run.actions)} actions, {shown} shown; {frames} frames read out, {dropped} dropped; "
               f"traces {run.trace_path}; log {log_path}")
    if outcome == "completed":
        print(f"closed loop completed: {summary}")
        return EXIT_OK
    print(f"holostim: closed loop aborted: {reason}; the gate is closed; {summary}", file=sys.stderr)
    return EXIT_FAIL
