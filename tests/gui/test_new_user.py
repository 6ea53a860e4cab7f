"""The GUI defects a new user found (issue 12), each reproduced the way that user met it.

Every test drives the window as a person does (clicks, keys, the menus) and then asks what the screen
shows: the text in the labels, the markers drawn, the previews, the position of the image.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from gui_helpers import pick_neurons
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtWidgets import QApplication, QFileDialog

from holostim.eventlog import read as read_log

LONG_REASON = "last frame swap 55 ms ago (interlock_ms = 50): the SLM may show a stale pattern"


def click(qtbot, win, x, y, button=Qt.MouseButton.LeftButton):
    vp = win.camera_view.graphics.viewport()
    qtbot.mouseClick(vp, button, pos=win.camera_view.viewport_pos(x, y))


def settled(qtbot, win):
    """Wait until the pattern on the SLM is that of the current (accepted) targets, and nothing runs."""
    s = win.sending

    def done():
        r = s.last_result
        return s.worker.idle and r is not None and list(r.targets) == win.store.accepted()

    qtbot.waitUntil(done, timeout=20_000)


def idle(qtbot, win):
    """Wait until the worker has nothing to do and its results have reached the GUI thread."""
    qtbot.waitUntil(lambda: win.sending.worker.idle, timeout=20_000)
    qtbot.wait(50)  # deliver queued results (none are expected: the caller checks that nothing changed)


def shortcut(qtbot, win, key, mods=Qt.KeyboardModifier.ControlModifier):
    with qtbot.waitActive(win):  # window shortcuts need the active window
        win.activateWindow()
    qtbot.keyClick(win.camera_view, key, mods)


def label_shows_all_of(label) -> bool:
    """Whether the label's text fits its box (no wrapped line cut off, no line running off the side)."""
    QApplication.processEvents()
    box = label.contentsRect()
    if label.wordWrap():
        return label.heightForWidth(box.width()) <= box.height()
    return label.fontMetrics().horizontalAdvance(label.text()) <= box.width()


# ============================================================================ the interlock banner
def test_a_long_interlock_reason_stays_readable_in_narrow_and_default_docks(qtbot, make_window, sim_config,
                                                                            monkeypatch, artifacts):
    win = make_window(sim_config())
    ind = win.status_panel.interlock
    monkeypatch.setattr(win.session, "permit_state", lambda: (False, LONG_REASON))
    qtbot.waitUntil(lambda: ind.reason == LONG_REASON, timeout=5000)  # the window polls the gate
    for width in (350, 220, 160):  # the default dock, then narrower ones a user drags to
        win.resizeDocks([win.status_dock], [width], Qt.Orientation.Horizontal)
        qtbot.wait(20)
        assert label_shows_all_of(ind), f"banner text clipped at dock width {width}: {ind.text()!r}"
        assert ind.text().startswith("BLOCKED: last frame")
        assert LONG_REASON in ind.toolTip()  # the whole reason is one hover away
        assert ind.height() >= ind.sizeHint().height()
    path = artifacts / "gui_interlock_banner_narrow.png"
    assert win.grab().save(str(path))
    win.resizeDocks([win.status_dock], [900], Qt.Orientation.Horizontal)  # room enough: all of it
    qtbot.wait(20)
    assert ind.text() == f"BLOCKED: {LONG_REASON}" and label_shows_all_of(ind)


# ============================================================================ test patterns
def test_after_a_test_pattern_the_gui_says_so_and_send_puts_the_targets_back(qtbot, make_window, sim_config):
    win = make_window(sim_config())
    s, panel = win.session, win.targets_panel
    for x, y in pick_neurons(s, 2):
        click(qtbot, win, x, y)
    settled(qtbot, win)
    assert not panel.send_button.isEnabled()  # auto send: the SLM shows the targets

    win.slm_panel.pattern_combo.setCurrentText("checkerboard")
    qtbot.mouseClick(win.slm_panel.pattern_button, Qt.MouseButton.LeftButton)
    frame = s.slm.last_frame
    assert frame[0, 0] == 0 and frame[0, 32] == 255  # the checkerboard is on the SLM
    st = win.status_panel
    assert st.text("spots") == "test pattern 'checkerboard'"
    assert [st.text(k) for k in ("efficiency", "uniformity", "iterations", "compute_ms")] == ["–"] * 4
    np.testing.assert_array_equal(win.mask_preview.data, frame)
    assert win.focal_preview.data is None and "test pattern" in win.focal_preview.caption.text()
    assert [k for _, _, k in win.camera_view.marker_states()] == ["unsent", "unsent"]
    assert panel.send_button.isEnabled()  # Send is what puts the targets back, even under Auto send

    qtbot.mouseClick(panel.send_button, Qt.MouseButton.LeftButton)
    settled(qtbot, win)
    r = win.sending.last_result
    assert len(r.targets) == 2
    np.testing.assert_array_equal(s.slm.last_frame, r.frame)
    np.testing.assert_array_equal(win.mask_preview.data, r.frame)
    assert st.text("spots") == "2" and "%" in st.text("efficiency")
    assert win.focal_preview.data is not None and "test pattern" not in win.focal_preview.caption.text()
    assert not panel.send_button.isEnabled()

    # A target change (here a third target) puts the targets back as well.
    qtbot.mouseClick(win.slm_panel.pattern_button, Qt.MouseButton.LeftButton)
    assert win.status_panel.text("spots").startswith("test pattern")
    click(qtbot, win, *pick_neurons(s, 3)[2])
    settled(qtbot, win)
    assert st.text("spots") == "3"
    np.testing.assert_array_equal(s.slm.last_frame, win.sending.last_result.frame)


# ============================================================================ manual mode
def test_with_auto_send_off_the_gui_shows_what_the_slm_shows_apart_from_the_edits(qtbot, make_window,
                                                                                 sim_config, artifacts):
    win = make_window(sim_config())
    s, panel, view = win.session, win.targets_panel, win.camera_view
    qtbot.mouseClick(panel.auto_check, Qt.MouseButton.LeftButton)
    assert not panel.auto_check.isChecked()
    a, b, c = pick_neurons(s, 3)
    click(qtbot, win, *a)
    click(qtbot, win, *b)
    assert [k for _, _, k in view.marker_states()] == ["unsent", "unsent"]
    qtbot.mouseClick(panel.send_button, Qt.MouseButton.LeftButton)
    settled(qtbot, win)
    on_slm = s.slm.last_frame.copy()
    assert [k for _, _, k in view.marker_states()] == ["on SLM", "on SLM"]

    # Delete b (table row 2, Delete key) and add c, without sending.
    win.table.selectRow(1)
    win.table.setFocus()
    qtbot.keyClick(win.table, Qt.Key.Key_Delete)
    click(qtbot, win, *c)
    idle(qtbot, win)
    np.testing.assert_array_equal(s.slm.last_frame, on_slm)  # nothing new reached the SLM
    states = view.marker_states()
    assert [k for _, _, k in states] == ["on SLM", "unsent", "ghost"]  # b still lit: drawn as a ghost
    assert np.hypot(states[2][0] - b[0], states[2][1] - b[1]) < 0.5
    # Status and previews describe the SLM's pattern (a and b), the table the edits (a and c).
    assert win.status_panel.text("spots") == "2"
    np.testing.assert_array_equal(win.mask_preview.data, on_slm)
    m = win.table.table_model
    assert [m.data(m.index(r, 5)) for r in range(m.rowCount())] == ["on SLM", "not sent"]
    assert panel.send_button.isEnabled()
    assert win.grab().save(str(artifacts / "gui_manual_mode_unsent_and_ghost.png"))

    qtbot.mouseClick(panel.send_button, Qt.MouseButton.LeftButton)
    settled(qtbot, win)
    assert [k for _, _, k in view.marker_states()] == ["on SLM", "on SLM"]  # the ghost is gone
    assert [m.data(m.index(r, 5)) for r in range(m.rowCount())] == ["on SLM", "on SLM"]
    # the mW column: the gate's predicted power at the sample per spot (what the per-spot limit checks)
    shown = s.last_result
    want = [f"{p:.2f}" for p in shown.predicted_power_mw]
    assert [m.data(m.index(r, 6)) for r in range(m.rowCount())] == want
    np.testing.assert_array_equal(win.mask_preview.data, s.slm.last_frame)
    assert not np.array_equal(s.slm.last_frame, on_slm)
    assert win.status_panel.text("spots") == "2" and not panel.send_button.isEnabled()


# ============================================================================ SLM window check box
def test_show_slm_window_does_not_stay_ticked_on_a_simulated_slm(qtbot, make_window, sim_config):
    win = make_window(sim_config())
    check, action = win.slm_panel.window_check, win.menus.slm_window_action
    shortcut(qtbot, win, Qt.Key.Key_W)  # Ctrl+W: SLM → Show SLM window
    assert "no window" in win.last_message
    assert not check.isChecked() and not action.isChecked()
    action.trigger()  # from the menu
    assert not check.isChecked() and not action.isChecked()
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton)  # the (disabled) box itself
    assert not check.isChecked()


# ============================================================================ the image stays put
def test_the_image_does_not_move_under_the_cursor_when_results_and_levels_change(qtbot, make_window,
                                                                                 sim_config):
    win = make_window(sim_config())
    s, view = win.session, win.camera_view
    a, b = pick_neurons(s, 2)
    vp = view.graphics.viewport()

    def on_window(x, y) -> QPoint:
        QApplication.processEvents()  # let any layout change happen
        return vp.mapTo(win, view.viewport_pos(x, y))

    p0 = on_window(*b)
    press_b = view.viewport_pos(*b)  # where the user is about to click, aimed before anything changes
    click(qtbot, win, *a)  # the first click: a result fills the status panel and the previews
    settled(qtbot, win)
    steps = {"first result": None}
    shortcut(qtbot, win, Qt.Key.Key_L)  # View → Auto levels
    steps["auto levels"] = None
    for lo, hi in ((0, 65535), (0.001, 0.002), (100, 123456)):  # histogram axis labels of every width
        view.histogram.setLevels(lo, hi)
        view._refresh_histogram()
        steps[f"levels {lo}–{hi}"] = None
    zx, zy = s.calibration.zero_order_camera()
    click(qtbot, win, zx, zy)  # a refusal: a long red message in the status bar
    steps["refusal"] = None
    for name in steps:
        p = on_window(*b)
        assert abs(p.x() - p0.x()) <= 1 and abs(p.y() - p0.y()) <= 1, f"image moved after {name}: {p0} → {p}"
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=press_b)
    t = win.store.targets[-1]
    assert abs(t.x - b[0]) <= 1 and abs(t.y - b[1]) <= 1  # the click landed where it was aimed


# ============================================================================ what the numbers say
def test_zero_iterations_say_the_start_met_the_tolerance(qtbot, make_window, sim_config):
    win = make_window(sim_config(engine={"tolerance": 100.0}))
    (a,) = pick_neurons(win.session, 1)
    click(qtbot, win, *a)
    settled(qtbot, win)
    assert win.sending.last_result.iterations == 0
    assert win.status_panel.text("iterations") == "0 (met tolerance at start)"


def test_metrics_close_to_one_never_read_as_100_percent(qtbot, make_window, sim_config):
    from holostim.gui.formatting import percent

    assert percent(0.9993) == "99.93 %" and percent(0.99996) == "99.996 %" and percent(0.9995) == "99.95 %"
    assert percent(0.812) == "81.2 %" and percent(1.0) == "100 %" and percent(0.0) == "0 %"
    assert percent(0.00004) == "0.004 %"  # nor a small non-zero value as 0 %
    for v in np.linspace(0.999, 1.0, 1001)[:-1]:
        assert not percent(v).startswith("100"), v

    win = make_window(sim_config())
    (a,) = pick_neurons(win.session, 1)
    near_one = []

    # The engine reached 0.9993 uniformity and 0.99995 efficiency: the window must not say 100 %.
    real_apply = win.session.apply

    def apply(targets, **kw):
        r = real_apply(targets, **kw)
        r.metrics = dataclasses.replace(r.metrics, uniformity=0.9993, efficiency=0.99995)
        near_one.append(r)
        return r

    win.session.apply = apply
    click(qtbot, win, *a)
    settled(qtbot, win)
    assert near_one and win.sending.last_result is near_one[-1]
    assert win.status_panel.text("uniformity") == "99.93 %"
    assert win.status_panel.text("efficiency") == "99.995 %"
    assert "efficiency 99.995 %, uniformity 99.93 %" in win.last_message


# ============================================================================ target files
@pytest.mark.parametrize(("chosen_filter", "suffix"), [("CSV (*.csv)", ".csv"), ("JSON (*.json)", ".json")])
def test_saving_targets_without_an_extension_adds_it(qtbot, make_window, sim_config, tmp_path, monkeypatch,
                                                     chosen_filter, suffix):
    win = make_window(sim_config())
    for x, y in pick_neurons(win.session, 2):
        click(qtbot, win, x, y)
    want = list(win.store.targets)
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(tmp_path / "my targets"), chosen_filter)))
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    shortcut(qtbot, win, Qt.Key.Key_E, ctrl_shift)  # Session → Save targets…
    out = tmp_path / f"my targets{suffix}"
    assert out.is_file(), win.last_message
    assert win.last_message == f"saved 2 targets to {out.name}"
    win.store.clear()
    win.load_targets(out)
    assert win.store.targets == want
    assert win.save_targets(tmp_path / "plain").name == "plain.csv"  # the file name alone: CSV


# ============================================================================ stable target ids
def test_targets_keep_their_ids_through_deletes_files_and_the_log(qtbot, make_window, sim_config, tmp_path):
    win = make_window(sim_config())
    s = win.session
    a, b, c, d = pick_neurons(s, 4)
    m = win.table.table_model

    def numbers():
        return [m.data(m.index(r, 0)) for r in range(m.rowCount())]

    for p in (a, b, c):
        click(qtbot, win, *p)
    assert numbers() == [1, 2, 3]
    win.table.selectRow(1)
    win.table.setFocus()
    qtbot.keyClick(win.table, Qt.Key.Key_Delete)
    assert numbers() == [1, 3]  # not renumbered
    click(qtbot, win, *d)
    assert numbers() == [1, 3, 4]  # 2 is never given out again
    settled(qtbot, win)
    assert [t.id for t in win.sending.last_result.targets] == [1, 3, 4]
    rec = [r for r in read_log(s.log.path).records if r["type"] == "pattern"][-1]
    assert [t["id"] for t in rec["targets"]] == [1, 3, 4]  # the log names the same neurons

    win.save_targets(tmp_path / "t.csv")
    win.store.clear()
    win.load_targets(tmp_path / "t.csv")
    assert numbers() == [1, 3, 4]  # a file keeps its ids
    click(qtbot, win, *b)
    assert numbers() == [1, 3, 4, 5]
    (tmp_path / "plain.csv").write_text(f"x_camera_px,y_camera_px\n{a[0]},{a[1]}\n{c[0]},{c[1]}\n")
    win.load_targets(tmp_path / "plain.csv")  # one without ids gets new ones
    assert numbers() == [6, 7]
    (tmp_path / "dup.json").write_text(f'[{{"x": {a[0]}, "y": {a[1]}, "id": 3}}, '
                                       f'{{"x": {c[0]}, "y": {c[1]}, "id": 3}}]')
    win.load_targets(tmp_path / "dup.json")  # an id twice in a file: the second one is renumbered
    assert numbers() == [3, 8]


def test_opening_another_session_shows_none_of_the_last_ones_pattern(qtbot, make_window, sim_config,
                                                                   tmp_path):
    win = make_window(sim_config())
    (a,) = pick_neurons(win.session, 1)
    click(qtbot, win, *a)
    settled(qtbot, win)
    assert win.status_panel.text("spots") == "1" and win.mask_preview.data is not None
    win.open_session(sim_config(name="second").save(tmp_path / "second.yaml"))
    assert win.session.config.name == "second"
    # Its SLM has shown nothing: no numbers, previews or lit markers of the other session's pattern.
    assert [win.status_panel.text(k) for k in ("spots", "efficiency", "iterations")] == ["–"] * 3
    assert win.mask_preview.data is None and win.focal_preview.data is None
    assert win.sending.on_slm == ()
