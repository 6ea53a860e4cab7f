"""The GUI thread keeps serving events while a 1024² mask is computed on the CPU."""

from __future__ import annotations

import time

import numpy as np
from gui_helpers import pick_neurons
from PyQt6.QtCore import QTimer


def test_event_loop_keeps_running_during_1024_cpu_compute(qtbot, make_window, sim_config):
    # The simulated camera re-images the 1024² SLM through the optics core for every frame; at a low frame
    # rate it stays out of the way of what this test measures (the compute thread vs the GUI thread).
    win = make_window(sim_config(slm_shape=(1024, 1024), engine={"backend": "numpy", "iterations": 20},
                                 camera={"fps": 5}))
    win.focal_dock.hide()  # measure the compute itself, not the preview
    neurons = pick_neurons(win.session, 4)
    ticks: list[float] = []
    busy: list[tuple[float, float]] = []
    start: list[float] = []
    win.sending.worker.busyChanged.connect(
        lambda b: start.append(time.perf_counter()) if b else busy.append((start[-1], time.perf_counter()))
    )
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    k = win.sending.shown_count
    for x, y in neurons:  # four separate patterns, each a full 1024² WGS run
        win.store.add(x, y)
        qtbot.waitUntil(lambda k=k: win.sending.worker.idle and win.sending.shown_count > k, timeout=60_000)
        k = win.sending.shown_count
    timer.stop()
    assert win.sending.last_result.frame.shape == (1024, 1024)
    assert len(win.sending.last_result.targets) == 4
    t = np.asarray(ticks)
    in_busy = np.zeros(len(t) - 1, bool)
    for a, b in busy:
        in_busy |= (t[1:] > a) & (t[:-1] < b)
    gaps_ms = 1e3 * np.diff(t)[in_busy]
    compute_ms = sum(b - a for a, b in busy) * 1e3
    assert compute_ms > 100, f"the compute took only {compute_ms:.0f} ms; nothing was measured"
    assert len(gaps_ms) > 10
    assert gaps_ms.max() < 50, (
        f"longest gap between 5 ms timer ticks while computing: {gaps_ms.max():.1f} ms "
        f"(median {np.median(gaps_ms):.1f} ms over {compute_ms:.0f} ms of compute)"
    )
