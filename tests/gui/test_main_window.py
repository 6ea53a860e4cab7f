"""The main window on a real simulation session: click → mask → SLM → log, edits, refusals, saving."""

from __future__ import annotations

import time

import numpy as np
import pytest
from gui_helpers import drag, pick_neurons
from PyQt6.QtCore import Qt

from holostim.eventlog import read as read_log


def click(qtbot, win, x, y, button=Qt.MouseButton.LeftButton):
    vp = win.camera_view.graphics.viewport()
    qtbot.mouseClick(vp, button, pos=win.camera_view.viewport_pos(x, y))


def patterns(session):
    return [r for r in read_log(session.log.path).records if r["type"] == "pattern"]


def logged_xy(record):
    return np.array([t["camera_px"] for t in record["targets"]]).reshape(-1, 2)


def test_three_clicks_reach_slm_and_log(qtbot, make_window, sim_config):
    win = make_window(sim_config())
    s = win.session
    neurons = pick_neurons(s, 3)
    for x, y in neurons:
        click(qtbot, win, x, y)
        qtbot.wait(30)
    sent = win.sending
    qtbot.waitUntil(lambda: len(sent.last_result.targets if sent.last_result else []) == 3
                    and sent.worker.idle, timeout=20_000)
    got = np.array([(t.x, t.y) for t in win.store.targets])
    # One widget pixel is < 0.5 camera px at this zoom: the click lands within 0.5 px of the neuron.
    np.testing.assert_allclose(got, neurons, atol=0.5)
    assert win.table.table_model.rowCount() == 3
    r = win.sending.last_result
    assert [(t.x, t.y) for t in r.targets] == [tuple(p) for p in got]
    assert r.frame.dtype == np.uint8 and r.frame.shape == tuple(s.slm.shape)
    np.testing.assert_array_equal(s.slm.last_frame, r.frame)  # what the SLM shows is this mask
    np.testing.assert_array_equal(win.mask_preview.data, r.frame)
    assert win.focal_preview.data is not None
    assert r.click_to_swap_ms is not None and r.click_to_swap_ms > 0
    last = patterns(s)[-1]
    np.testing.assert_allclose(logged_xy(last), got)
    assert last["frame_hash"] == r.record["frame_hash"]
    assert win.status_panel.text("spots") == "3"
    assert win.status_panel.interlock.text() == "LASER PERMITTED"
    assert "%" in win.status_panel.text("efficiency")


def test_drag_and_delete_update_table_mask_and_log(qtbot, make_window, sim_config):
    win = make_window(sim_config())
    s = win.session
    (a, b, c) = pick_neurons(s, 3)
    for x, y in (a, b):
        click(qtbot, win, x, y)
        qtbot.wait(30)
    qtbot.waitUntil(lambda: win.sending.last_result is not None and len(win.sending.last_result.targets) == 2
                    and win.sending.worker.idle, timeout=20_000)
    before = win.sending.last_result.frame.copy()
    n_before, k = len(patterns(s)), win.sending.shown_count

    vp = win.camera_view.graphics.viewport()
    drag(vp, win.camera_view.viewport_pos(*a), win.camera_view.viewport_pos(*c))
    qtbot.waitUntil(lambda: win.sending.worker.idle and win.sending.shown_count > k, timeout=20_000)
    assert len(patterns(s)) == n_before + 1
    moved = win.store.targets[0]
    assert abs(moved.x - c[0]) < 1 and abs(moved.y - c[1]) < 1
    m = win.table.table_model
    assert float(m.data(m.index(0, 1), Qt.ItemDataRole.EditRole)) == pytest.approx(moved.x)
    last = patterns(s)[-1]
    np.testing.assert_allclose(logged_xy(last), [(moved.x, moved.y), (win.store.targets[1].x,
                                                                     win.store.targets[1].y)])
    assert not np.array_equal(win.sending.last_result.frame, before)
    np.testing.assert_array_equal(s.slm.last_frame, win.sending.last_result.frame)

    # Delete: select the moved target in the table, press Delete.
    n_before, k = len(patterns(s)), win.sending.shown_count
    win.table.selectRow(0)
    win.table.setFocus()
    qtbot.keyClick(win.table, Qt.Key.Key_Delete)
    assert m.rowCount() == 1
    qtbot.waitUntil(lambda: win.sending.worker.idle and win.sending.shown_count > k, timeout=20_000)
    assert len(patterns(s)) == n_before + 1
    np.testing.assert_allclose(logged_xy(patterns(s)[-1]), [b], atol=0.5)
    assert len(win.sending.last_result.targets) == 1
    np.testing.assert_array_equal(s.slm.last_frame, win.sending.last_result.frame)


def test_refused_targets_give_message_and_no_log_record(qtbot, make_window, sim_config, monkeypatch):
    win = make_window(sim_config())
    s = win.session
    n0 = len(patterns(s))
    frame0 = None if s.slm.last_frame is None else s.slm.last_frame.copy()
    submitted = []  # every target set the window hands to the compute worker
    monkeypatch.setattr(win.sending.worker, "submit", lambda targets, **kw: submitted.append(targets))
    zx, zy = s.calibration.zero_order_camera()
    click(qtbot, win, zx + 1, zy)
    assert "refused" in win.last_message and "zero-order" in win.last_message
    assert win.store.reasons[0] is not None
    # Outside the addressable field: the field outline is tilted, so the camera's corners lie outside it.
    ny, nx = s.camera.shape
    outside = [(x, y) for x in range(8, nx - 8, 4) for y in range(8, ny - 8, 4)
               if s.check_target(x, y) is not None and "outside" in s.check_target(x, y)]
    assert outside, "the addressable field covers the whole camera: this test needs one where it does not"
    click(qtbot, win, *outside[0])
    assert "refused" in win.last_message and "outside" in win.last_message
    assert "outside" in win.store.reasons[1]
    assert [p["symbol"] for p in win.camera_view._markers.data] == ["x", "x"]  # drawn as refused
    assert win.store.accepted() == []
    assert submitted == []  # nothing was computed, so nothing can reach the SLM or the log later
    assert len(patterns(s)) == n0
    if frame0 is None:
        assert s.slm.last_frame is None
    else:
        np.testing.assert_array_equal(s.slm.last_frame, frame0)
    assert win.status_panel.text("spots") == "–"


def test_save_and_reopen_session_restores_targets_and_settings(qtbot, make_window, sim_config, tmp_path):
    win = make_window(sim_config())
    (a, b) = pick_neurons(win.session, 2)
    win.targets_panel.method_combo.setCurrentText("gs")
    win.targets_panel.iter_spin.setValue(7)
    click(qtbot, win, *a)
    click(qtbot, win, *b)
    win.store.update(1, weight=2.0, group=3)
    qtbot.waitUntil(lambda: win.sending.worker.idle, timeout=20_000)
    want = list(win.store.targets)
    path = win.save_session(tmp_path / "saved.yaml")
    assert path.is_file()
    assert win.recent_sessions()[0] == str(path.resolve())
    win.close()

    win2 = make_window(path)
    assert list(win2.store.targets) == want
    assert win2.targets_panel.method_combo.currentText() == "gs" and win2.targets_panel.iter_spin.value() == 7
    assert win2.session.config.engine.method == "gs"
    assert win2.recent_sessions()[0] == str(path.resolve())
    # The restored targets are sent at once (auto mode): the SLM shows them again.
    qtbot.waitUntil(lambda: win2.sending.last_result is not None and win2.sending.worker.idle, timeout=20_000)
    assert win2.sending.last_result.targets == want
    assert win2.sending.last_result.method == "gs" and win2.sending.last_result.iterations <= 7


def test_manual_mode_sends_only_on_send(qtbot, make_window, sim_config):
    win = make_window(sim_config())
    s = win.session
    win.targets_panel.auto_check.setChecked(False)
    (a,) = pick_neurons(s, 1)
    n0 = len(patterns(s))
    click(qtbot, win, *a)
    qtbot.waitUntil(lambda: win.sending.worker.idle and win.targets_panel.send_button.isEnabled(),
                    timeout=20_000)
    assert len(patterns(s)) == n0 and win.sending.last_result is None
    assert win.mask_preview.data is None  # the previews show what the SLM shows: nothing sent yet
    with qtbot.waitActive(win):  # window shortcuts need the active window
        win.activateWindow()
    qtbot.keyClick(win.camera_view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Send
    qtbot.waitUntil(lambda: win.sending.last_result is not None and win.sending.worker.idle, timeout=20_000)
    assert len(patterns(s)) == n0 + 1 and not win.targets_panel.send_button.isEnabled()
    # Another change waits for the Send button again.
    win.store.update(0, weight=2.0)
    qtbot.waitUntil(lambda: win.sending.worker.idle and win.targets_panel.send_button.isEnabled(),
                    timeout=20_000)
    qtbot.mouseClick(win.targets_panel.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(patterns(s)) == n0 + 2 and win.sending.worker.idle, timeout=20_000)
    assert patterns(s)[-1]["targets"][0]["weight"] == 2.0


def test_calibration_from_the_menu_updates_overlays_and_file(qtbot, make_window, sim_config, tmp_path):
    cfg = sim_config(calibration={"file": str(tmp_path / "gui-cal.yaml")})
    win = make_window(cfg)
    s = win.session
    old = s.calibration
    assert (tmp_path / "gui-cal.yaml").is_file()  # opening calibrated the simulated rig automatically
    (tmp_path / "gui-cal.yaml").unlink()
    with qtbot.waitActive(win):
        win.activateWindow()
    qtbot.keyClick(win.camera_view, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)  # Run calibration
    assert win.calibration_dialog is not None
    qtbot.waitUntil(lambda: win.calibration_dialog is None, timeout=60_000)
    assert win.last_message.startswith("calibration residual")
    assert s.calibration is not old and s.calibration.residual_px < 1.0
    assert (tmp_path / "gui-cal.yaml").is_file()
    np.testing.assert_allclose(win.camera_view._zero_cross.data[0]["x"], s.calibration.zero_order_camera()[0])
    # Computing works again after the calibration (the worker was paused for it).
    (a,) = pick_neurons(s, 1)
    click(qtbot, win, *a)
    qtbot.waitUntil(lambda: win.sending.last_result is not None and win.sending.worker.idle, timeout=20_000)


@pytest.mark.slow  # a whole depth calibration on a 128² slide (~10 s idle)
def test_depth_calibration_from_the_menu(qtbot, make_window, sim_config, tmp_path):
    cfg = sim_config(slm_shape=(128, 128), camera_shape=(128, 128), optics={"magnification": 200.0},
                     simulation={"n_neurons": 0, "sample": "slide"}, daq=None,
                     calibration={"file": str(tmp_path / "gui-cal.yaml")})
    win = make_window(cfg)
    s = win.session
    assert s.calibration.depth_map is None
    with qtbot.waitActive(win):
        win.activateWindow()
    qtbot.keyClick(win.camera_view, Qt.Key.Key_K,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert win.calibration_dialog is not None and win.calibration_dialog.kind == "depth"
    qtbot.waitUntil(lambda: win.calibration_dialog is None, timeout=120_000)
    assert win.last_message.startswith("depth calibration: true z = "), win.last_message
    assert s.calibration.depth_map is not None
    assert s.calibration.depth_map.scale == pytest.approx(s.camera.true_defocus[0], rel=0.02)
    from holostim.calibration import Calibration

    assert Calibration.load(tmp_path / "gui-cal.yaml").depth_map is not None  # saved with the map


def test_targets_files_and_test_pattern_from_the_window(qtbot, make_window, sim_config, tmp_path):
    win = make_window(sim_config())
    s = win.session
    (a, b) = pick_neurons(s, 2)
    click(qtbot, win, *a)
    click(qtbot, win, *b)
    want = list(win.store.targets)
    win.save_targets(tmp_path / "t.json")
    win.save_targets(tmp_path / "t.csv")
    win.store.clear()
    assert len(win.store) == 0
    win.load_targets(tmp_path / "t.csv")
    assert win.store.targets == want
    win.store.clear()
    win.load_targets(tmp_path / "t.json")
    assert win.store.targets == want
    qtbot.waitUntil(lambda: win.sending.worker.idle, timeout=20_000)
    win.slm_panel.pattern_combo.setCurrentText("checkerboard")
    win.slm_panel.show_test_pattern()
    frame = s.slm.last_frame
    assert frame[0, 0] == 0 and frame[0, 32] == 255 and frame[32, 32] == 0
    assert "test pattern" in win.last_message


def test_window_layout_and_modes_are_restored(qtbot, make_window, sim_config):
    win = make_window(sim_config(), size=(1300, 850))
    win.targets_panel.auto_check.setChecked(False)
    win.targets_panel.snap_check.setChecked(True)
    win.mask_dock.hide()
    win.close()
    win2 = make_window(sim_config(), size=(900, 600))
    win2.restore_window_state()  # (also done on construction; here after the fixture's resize)
    assert (win2.width(), win2.height()) == (1300, 850)
    assert not win2.targets_panel.auto_check.isChecked() and win2.targets_panel.snap_check.isChecked()
    assert win2.mask_dock.isHidden() and not win2.focal_dock.isHidden()


def test_open_another_session_in_the_window_and_recent_list(qtbot, make_window, sim_config, tmp_path):
    first = tmp_path / "first.yaml"
    sim_config().save(first)
    other = sim_config(name="second", engine={"iterations": 5})
    second = other.save(tmp_path / "second.yaml")
    win = make_window(first)
    old = win.session
    win.open_session(second)
    assert old.closed and win.session is not old
    assert win.session.config.name == "second" and win.targets_panel.iter_spin.value() == 5
    assert "second" in win.windowTitle()
    assert win.recent_sessions()[:2] == [str(second.resolve()), str(first.resolve())]
    assert [a.text() for a in win.menus.recent_menu.actions()][:2] == win.recent_sessions()[:2]
    qtbot.waitUntil(lambda: win.camera_view.frame is not None, timeout=10_000)
    (a,) = pick_neurons(win.session, 1)
    click(qtbot, win, *a)
    qtbot.waitUntil(lambda: win.sending.last_result is not None and win.sending.worker.idle, timeout=20_000)
    assert win.sending.last_result.iterations <= 5
    win.open_session(tmp_path / "missing.yaml")  # an error keeps the open session
    assert "cannot open" in win.last_message and not win.session.closed
    assert win.log_folder() == win.session.log.path.parent


def test_run_gui_opens_the_session_and_returns_when_closed(qtbot, sim_config, tmp_path):
    from PyQt6.QtCore import QSettings, QTimer
    from PyQt6.QtWidgets import QApplication, QMessageBox

    from holostim.gui.app import run_gui
    from holostim.gui.main_window import MainWindow

    # run_gui uses Qt's per-user settings: keep them in tmp_path, not in the user's home.
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path))
    path = sim_config().save(tmp_path / "s.yaml")
    seen = []

    def close_window():
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not wins:
            QTimer.singleShot(100, close_window)
            return
        seen.append((wins[0].session.config.name, wins[0].session.path))
        wins[0].close()

    QTimer.singleShot(200, close_window)
    assert run_gui(path) == 0
    assert seen == [("simulation", path)]
    assert (tmp_path / "holostim" / "holostim.conf").is_file()  # recent sessions, window state

    def dismiss_error():
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
        if not boxes:
            QTimer.singleShot(100, dismiss_error)
            return
        seen.append(boxes[0].text())
        boxes[0].close()

    QTimer.singleShot(200, dismiss_error)
    assert run_gui(tmp_path / "nope.yaml") == 2
    assert "nope.yaml" in seen[-1] and "does not exist" in seen[-1]


def test_safety_limit_refusal_is_reported_and_not_logged(qtbot, make_window, sim_config):
    win = make_window(sim_config(safety={"max_spots": 2}))
    s = win.session
    (a, b, c) = pick_neurons(s, 3)
    click(qtbot, win, *a)
    click(qtbot, win, *b)
    qtbot.waitUntil(lambda: win.sending.last_result is not None and len(win.sending.last_result.targets) == 2
                    and win.sending.worker.idle, timeout=20_000)
    n, shown = len(patterns(s)), win.sending.shown_count
    frame = s.slm.last_frame.copy()
    np.testing.assert_array_equal(frame, win.sending.last_result.frame)  # the two spots are on the SLM
    click(qtbot, win, *c)
    qtbot.waitUntil(lambda: win.sending.worker.idle and "max_spots" in win.last_message, timeout=20_000)
    assert win.last_message.startswith("pattern refused: 3 spots exceed safety.max_spots = 2")
    assert len(win.store.accepted()) == 3  # the GUI accepted the click; the session's limit refused it
    assert len(patterns(s)) == n  # not logged
    np.testing.assert_array_equal(s.slm.last_frame, frame)  # the SLM still shows the two-spot pattern
    assert win.sending.shown_count == shown and len(win.sending.last_result.targets) == 2
    assert win.status_panel.text("spots") == "2"
    rows = dict(win.menus.shortcut_table())
    assert rows["Send to SLM"] == "Ctrl+Return" and rows["Run calibration…"] == "Ctrl+K"


def test_no_display_is_a_one_line_error_not_a_qt_abort(tmp_path):
    import os
    import subprocess
    import sys

    from holostim.gui.app import NoDisplayError, check_display

    with pytest.raises(NoDisplayError, match="DISPLAY"):
        check_display({}, platform="linux")
    check_display({"DISPLAY": ":0"}, platform="linux")
    check_display({}, platform="win32")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "holostim", "gui"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no display" in proc.stderr


def test_a_refusal_is_not_hidden_by_the_report_of_an_older_result(make_window, sim_config):
    """The report of a pattern requested before a refusal arrives after it: the refusal stays readable."""
    win = make_window(sim_config())
    t_before = time.monotonic()
    win.show_message("target at (1.0, 2.0) refused: in the zero-order exclusion", error=True)
    win.sending.message.emit("sent 6 spots: efficiency 80 %", False, t_before)
    assert "refused" in win.last_message
    win.sending.message.emit("sent 7 spots: efficiency 80 %", False, time.monotonic())  # a newer request
    assert win.last_message.startswith("sent 7 spots")
