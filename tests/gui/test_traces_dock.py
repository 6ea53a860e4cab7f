"""The traces dock: fed from another thread by queued signals, it draws each ROI, the light and the events."""

from __future__ import annotations

import threading

import numpy as np

from holostim.gui.traces_dock import TracesDock
from holostim.protocol.closed_loop.readout import TraceSample
from holostim.protocol.closed_loop.rules import Decision
from holostim.protocol.closed_loop.run import Action
from holostim.sim.indicator import Indicator, kernel


def feed(dock: TracesDock, n_frames: int = 400, fps: float = 100.0) -> threading.Thread:
    """A worker thread like the readout's: GCaMP6f transients on ROI 1, an action lighting ROI 2."""
    ind = Indicator()
    rng = np.random.default_rng(0)

    def work():
        spikes_a = [1.0, 2.5]
        for k in range(n_frames):
            t = k / fps
            a = sum(0.3 * ind.scale * kernel(np.array(t - s), ind.tau_rise_s, ind.tau_decay_s)
                    for s in spikes_a)
            b = sum(0.3 * ind.scale * kernel(np.array(t - s - 0.09), ind.tau_rise_s, ind.tau_decay_s)
                    for s in spikes_a)
            dff = np.array([a, b, 0.0]) + 0.01 * rng.standard_normal(3)
            dock.sampleArrived.emit(TraceSample(t, k + 1, dff, dff, np.zeros(3)))
            for s in spikes_a:
                if abs(t - (s + 0.06)) < 0.5 / fps:
                    d = Decision("a_drives_b", 1, t, k + 1, float(a))
                    act = Action(d, "b", t, t, t + 0.002, t + 0.018, t + 0.028, "shown")
                    dock.actionArrived.emit(act)
        d = Decision("a_drives_b", 1, 3.5, n_frames, 0.2)
        dock.actionArrived.emit(Action(d, "b", 3.5, outcome="not_opened"))

    th = threading.Thread(target=work)
    th.start()
    return th


def test_the_dock_draws_what_the_worker_thread_sends(qtbot, artifacts):
    dock = TracesDock(window_s=4.0)
    qtbot.addWidget(dock)
    dock.resize(720, 420)
    dock.show()
    dock.set_rois([1, 2, 3])
    th = feed(dock)
    th.join()
    qtbot.waitUntil(lambda: len(dock.samples) == 400 and len(dock.actions) == 3, timeout=10_000)
    dock.redraw()
    x, y = dock._curves[0].getData()
    assert len(x) == 400 and x[-1] == 0.0
    assert y.max() > 0.25  # ROI 1's transients, on its own baseline
    _, y3 = dock._curves[2].getData()
    assert abs(float(np.median(y3)) - 2 * dock.spacing) < 0.05  # ROI 3 stacked two rows up
    kinds = [k for k, _ in dock._marks]
    assert kinds.count("band") == 2 and kinds.count("tick") == 3  # two lit actions, three events
    assert "3 rule events, 2 lit" in dock.status.text()
    dock.ruleStopped.emit("a_drives_b", "over the duty-cycle limit")
    qtbot.waitUntil(lambda: bool(dock.stopped), timeout=5000)
    assert "stopped: over the duty-cycle limit" in dock.status.text()
    assert dock.grab().save(str(artifacts / "gui_closed_loop_traces.png"))
