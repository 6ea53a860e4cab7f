"""A closed loop run from the GUI as a person runs it: click two cells, load the protocol, press Run.

The simulated rig has the responding network without spontaneous spikes, so every transient on the
traces is one this test caused: cell A (the first click, ROI 1) is made to spike a few times; each spike
crosses the rule's threshold, the rule lights B through the gate, and the traces dock — shown by itself
when the run starts — draws both ROIs' ΔF/F live with the lit periods shaded. The screenshot of the
window is taken once that is on screen (assets/screenshot-traces.png is a copy of it).
"""

from __future__ import annotations

import numpy as np
from gui_helpers import pick_neurons
from PyQt6.QtCore import Qt

from holostim.eventlog import read as read_log
from holostim.protocol.closed_loop.run import ClosedLoopRun

PROTOCOL = """\
version: 1
name: a_drives_b
patterns:
  b: {ids: [2]}
closed_loop:
  duration_ms: 600000
  rois: {ids: [1, 2], radius_px: 6}
  readout: {init_frames: 5, neuropil_factor: 0.7}
  rules:
    - name: a_drives_b
      when: {roi: 1, dff_above: 0.1}
      do: {show: b, duration_ms: 50}
      refractory_ms: 500
      max_rate_hz: 2
"""
SPIKES_S = (0.5, 2.0, 3.5)
"""When cell A spikes, after the run's first frames (s)."""


def press(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_a_closed_loop_started_from_the_protocol_dock_shows_live_traces(qtbot, make_window, sim_config,
                                                                         tmp_path, artifacts):
    win = make_window(sim_config(simulation={"activity_model": "network", "spontaneous_hz": 0.0,
                                             "n_neurons": 12},
                                 camera={"fps": 60}), size=(1600, 950))
    s = win.session
    assert win.traces_dock.isHidden()  # until a closed loop runs
    # Auto send off: the clicks place ROIs without lighting the cells (a lit cell's decaying calcium
    # would make the run's first frames, its ΔF/F baseline, too bright)
    win.targets_panel.auto_check.setChecked(False)
    vp = win.camera_view.graphics.viewport()
    cells = pick_neurons(s, 2, min_dist=40)
    for x, y in cells:
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=win.camera_view.viewport_pos(x, y))
        qtbot.wait(20)
    qtbot.waitUntil(lambda: len(win.store) == 2 and win.sending.worker.idle, timeout=20_000)
    assert [t.id for t in win.store.targets] == [1, 2]
    pos = np.asarray(s.camera.neuron_positions, float)
    a = int(np.argmin(np.hypot(*(pos - np.array(cells[0])).T)))  # the neuron under the first click

    path = tmp_path / "a_drives_b.yaml"
    path.write_text(PROTOCOL)
    dock = win.protocol_panel
    win.protocol_dock.raise_()
    assert dock.load(path), dock.error_text
    assert dock.error_text.startswith("closed loop: 1 rules"), dock.error_text
    press(qtbot, dock.run_button)
    qtbot.waitUntil(lambda: dock.state == "running", timeout=30_000)
    run = dock.current_run
    assert isinstance(run, ClosedLoopRun)
    assert win.traces_dock.isVisible()  # shown by itself when the run started
    assert win.traces_dock.toggleViewAction().isChecked()  # the View menu's toggle says so too
    traces = win.traces_panel
    qtbot.waitUntil(lambda: len(traces.samples) > 0, timeout=20_000)
    t0 = traces.samples[-1][0]
    for dt in SPIKES_S:
        s.camera.network.inject(t0 + dt, a)
    lit = lambda: sum(x.outcome == "shown" for x in run.actions)  # noqa: E731
    qtbot.waitUntil(lambda: lit() >= len(SPIKES_S), timeout=60_000)
    last = [x for x in run.actions if x.outcome == "shown"][-1]
    qtbot.waitUntil(lambda: traces.samples[-1][0] > last.t_gate_close + 1.0, timeout=30_000)  # B's transient
    qtbot.wait(2 * 50)  # the dock's redraw timer has drawn the latest samples
    traces.redraw()

    # what a person sees: two live curves with data, A's transients, the lit periods shaded
    xs = [c.getData()[0] for c in traces._curves]
    ys = [c.getData()[1] for c in traces._curves]
    assert len(xs) == 2 and all(x is not None and len(x) > 60 for x in xs)
    assert float(np.max(ys[0])) > 0.1  # A's transients, above the rule's threshold
    bands = [item for kind, item in traces._marks if kind == "band"]
    assert len(bands) >= len(SPIKES_S)
    lo, hi = bands[-1].getRegion()
    assert 0.04 < hi - lo < 0.2 and hi < 0  # the last action's 50 ms of light, before now
    assert "lit" in traces.status.text()
    shot = artifacts / "screenshot-traces.png"
    assert win.grab().save(str(shot))

    press(qtbot, dock.abort_button)
    qtbot.waitUntil(lambda: not dock.running, timeout=30_000)
    assert dock.state == "aborted" and not s.daq.gate_open
    log = read_log(s.log.path).records
    acts = [r for r in log if r["type"] == "closed_loop_action" and r["outcome"] == "shown"]
    assert len(acts) >= len(SPIKES_S) and all(r["pattern"] == "b" for r in acts)
    assert [r for r in log if r["type"] == "protocol_end"][-1]["outcome"] == "aborted"


def test_a_closed_loop_reads_out_the_rois_imported_in_the_gui(qtbot, make_window, sim_config, tmp_path):
    roifile = __import__("pytest").importorskip("roifile")
    win = make_window(sim_config(simulation={"activity_model": "network", "spontaneous_hz": 0.0,
                                             "n_neurons": 12}, camera={"fps": 60}))
    s = win.session
    win.targets_panel.auto_check.setChecked(False)
    cells = pick_neurons(s, 2, min_dist=40)
    # ImageJ rectangles (pixel corners) of 9 × 7 px around the two cells; imaging px = camera px here
    rects = [roifile.ImagejRoi(roitype=roifile.ROI_TYPE.RECT, left=int(x) - 4, top=int(y) - 3,
                               right=int(x) + 5, bottom=int(y) + 4, name=f"c{k}")
             for k, (x, y) in enumerate(cells)]
    roifile.roiwrite(tmp_path / "RoiSet.zip", rects)
    assert win.menus.import_rois(tmp_path / "RoiSet.zip") == 2
    assert [t.id for t in win.store.targets] == [1, 2] and len(win.camera_view.rois.rois) == 2
    path = tmp_path / "imported.yaml"
    path.write_text(PROTOCOL.replace("rois: {ids: [1, 2], radius_px: 6}", "rois: {source: imported}"))
    dock = win.protocol_panel
    assert dock.load(path), dock.error_text
    assert "on the imported ROIs" in dock.error_text
    press(qtbot, dock.run_button)
    qtbot.waitUntil(lambda: dock.state == "running", timeout=30_000)
    run = dock.current_run
    assert run.rois.ids == [1, 2]
    for (x, y), m in zip(cells, run.rois.masks, strict=True):
        want = np.zeros(m.shape, bool)
        want[int(y) - 3:int(y) + 4, int(x) - 4:int(x) + 5] = True  # the rectangle's pixels, not a disc
        assert np.array_equal(m, want)
    qtbot.waitUntil(lambda: len(win.traces_panel.samples) > 5, timeout=20_000)
    press(qtbot, dock.abort_button)
    qtbot.waitUntil(lambda: not dock.running, timeout=30_000)
    assert dock.state == "aborted" and not s.daq.gate_open
