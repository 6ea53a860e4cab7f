"""The GUI thread keeps serving events while a 1024² mask is computed on the CPU.

No wall-clock bound: the test counts timer events the GUI thread handled while the compute thread was
inside the session's compute. A GUI thread that computes itself, or waits for the compute, handles
none. How long the GUI thread waits between events during a compute is a timing figure, reported by
``benchmarks/gui_latency.py``.
"""

from __future__ import annotations

import threading

import pytest
from gui_helpers import pick_neurons
from PyQt6.QtCore import QTimer

MIN_TICKS = 5
"""GUI-thread timer events required during each compute (a 1024² run spans hundreds of 5 ms ticks)."""


@pytest.mark.slow  # four full 1024² WGS runs: a few seconds on two cores
def test_event_loop_keeps_running_during_1024_cpu_compute(qtbot, make_window, sim_config, monkeypatch):
    # The simulated camera re-images the 1024² SLM through the optics core for every frame; at a low frame
    # rate it stays out of the way of what this test looks at (the compute thread vs the GUI thread).
    win = make_window(sim_config(slm_shape=(1024, 1024), engine={"backend": "numpy", "iterations": 20},
                                 camera={"fps": 5}))
    win.focal_dock.hide()  # the compute itself, not the preview
    s = win.session
    neurons = pick_neurons(s, 4)
    ticks = [0]
    during: list[tuple[int, int]] = []  # (GUI ticks handled while computing, thread that computed)
    apply = s.apply

    def counting_apply(targets, **kw):
        t0 = ticks[0]
        try:
            return apply(targets, **kw)
        finally:
            during.append((ticks[0] - t0, threading.get_ident()))

    monkeypatch.setattr(s, "apply", counting_apply)
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    timer.start()
    k = win.sending.shown_count
    for x, y in neurons:  # four separate patterns, each a full 1024² WGS run
        win.store.add(x, y)
        qtbot.waitUntil(lambda k=k: win.sending.worker.idle and win.sending.shown_count > k, timeout=60_000)
        k = win.sending.shown_count
    timer.stop()
    assert win.sending.last_result.frame.shape == (1024, 1024)
    assert len(win.sending.last_result.targets) == 4
    assert len(during) == 4
    assert threading.main_thread().ident not in {t for _, t in during}
    assert min(n for n, _ in during) >= MIN_TICKS, f"GUI timer events handled during each compute: {during}"
