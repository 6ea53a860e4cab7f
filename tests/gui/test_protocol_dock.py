"""The protocol dock as a person uses it: groups → patterns → schedule → Run, watched live, aborted, refused.

Every run here is a real :class:`~holostim.protocol.runner.ProtocolRun` on the simulated rig, with its
simulated DAQ: the gate line the tests read (``session.daq.gate_open``, the DAQ's ``gate_out`` history)
is the one the runner drives, and the log is the session's. Nothing is timed: each test waits for the
state it then checks (a step on, the gate open, the run's end), never for a number of milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gui_helpers import pick_neurons
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage

from holostim.eventlog import read as read_log
from holostim.gui.protocol_dock import NO_DAQ, ProtocolDock
from holostim.gui.run_lock import LOCKED
from holostim.gui.target_store import TargetStore

ROOT = Path(__file__).resolve().parents[2]
LONG_STEP_MS = 20_000
"""A step that is still on when the test acts on it (the test aborts it long before its end)."""
PAUSED_STEP_MS = 1500
"""Long enough that Pause, pressed once the first step's gate is open, lands inside that step."""
LIT_S = 1.0
"""The stimulated neurons have brightened this long after the gate opened (their calcium rises)."""


def click(qtbot, win, x, y, button=Qt.MouseButton.LeftButton):
    vp = win.camera_view.graphics.viewport()
    qtbot.mouseClick(vp, button, pos=win.camera_view.viewport_pos(x, y))


def press(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def records(path, kind):
    return [r for r in read_log(path).records if r["type"] == kind]


def four_neurons_in_two_groups(qtbot, win):
    """Click four neurons, then set their groups to 1, 1, 2, 2 in the target table."""
    for x, y in pick_neurons(win.session, 4, min_dist=30):
        click(qtbot, win, x, y)
        qtbot.wait(20)
    assert len(win.store) == 4 and all(r is None for r in win.store.reasons)
    m = win.table.table_model
    for row, group in enumerate((1, 1, 2, 2)):
        assert m.setData(m.index(row, 4), str(group), Qt.ItemDataRole.EditRole)
    qtbot.waitUntil(lambda: win.sending.worker.idle, timeout=20_000)
    assert [t.group for t in win.store.targets] == [1, 1, 2, 2]


def groups_to_patterns(qtbot, win, duration_ms, repetitions=1):
    dock = win.protocol_panel
    win.protocol_dock.raise_()
    press(qtbot, dock.editor.groups_button)
    ed = dock.editor
    assert ed.pattern_names() == ["group 1", "group 2"]
    assert ed.steps_table.rowCount() == 2  # one step per pattern
    for row in range(2):
        ed.set_step(row, duration_ms=str(duration_ms))
    ed.repetitions_spin.setValue(repetitions)
    return dock


def test_a_person_runs_a_short_protocol_made_from_the_target_groups(qtbot, make_window, sim_config):
    win = make_window(sim_config())
    s = win.session
    four_neurons_in_two_groups(qtbot, win)
    dock = groups_to_patterns(qtbot, win, duration_ms=80, repetitions=2)
    ed = dock.editor
    ed.inter_step_spin.setValue(20)
    assert dock.error_text.startswith("4 steps (2 × 2)"), dock.error_text
    by_group = {g: {(t.x, t.y) for t in win.store.targets if t.group == g} for g in (1, 2)}

    seen = []  # what the window showed at each highlight change, recorded on the GUI thread

    def on_highlight(targets):
        seen.append((set(win.camera_view.highlighted()), win.targets_panel.isEnabled(),
                     win.menus.send_action.isEnabled(), dock.gate_light.text()))

    dock.highlightChanged.connect(on_highlight)
    press(qtbot, dock.run_button)
    assert not win.targets_panel.isEnabled() and not win.menus.send_action.isEnabled()  # the SLM is the run's
    assert win.targets_panel.toolTip() == LOCKED
    qtbot.waitUntil(lambda: dock.state == "completed", timeout=60_000)

    # The progress reads done, the gate light went open and closed, the controls came back.
    assert dock.progress_bar.value() == dock.progress_bar.maximum() == 4
    assert dock.step_label.text() == "4 / 4 done" and dock.state_label.text() == "completed"
    assert "preparing" in dock.states and "running" in dock.states
    assert "GATE OPEN" in dock.gate_light.history
    opened = dock.gate_light.history.index("GATE OPEN")
    assert any(t.startswith("GATE CLOSED: ") for t in dock.gate_light.history[opened:])
    assert dock.gate_light.text().startswith("GATE CLOSED") and not s.daq.gate_open
    assert win.targets_panel.isEnabled() and win.menus.send_action.isEnabled()
    assert win.camera_view.highlighted() == []
    # Each step highlighted its own group's targets, with sending shut while it was on.
    lit = [h for h in seen if h[0]]
    assert len(lit) == 4
    assert [h[0] for h in lit] == [by_group[1], by_group[2]] * 2
    assert not any(h[1] or h[2] for h in lit)
    # The log has the run: a start, four step records with the light inside each step, the end.
    path = s.log.path
    steps = records(path, "step")
    assert [r["pattern"] for r in steps] == ["group 1", "group 2"] * 2
    # The light came on inside each step after its swap. A loaded machine can make a step's swap and
    # settle outlast the step; its gate then stays shut, and the log must say so for that step.
    not_opened = {r["step"]: r["reason"] for r in records(path, "gate") if r.get("action") == "not_opened"}
    for r in steps:
        if r["t_gate_open"] is None:
            assert r["t_gate_close"] is None and "deadline passed" in not_opened[r["index"]], (r, not_opened)
        else:
            assert r["t_swapped"] <= r["t_gate_open"] < r["t_gate_close"], r
    assert any(r["t_gate_open"] is not None for r in steps)
    (start,) = records(path, "protocol")
    assert set(start["patterns"]) == {"group 1", "group 2"}
    assert records(path, "protocol_end")[-1]["outcome"] == "completed"
    # After the run the SLM shows the run's last pattern: the markers say unsent, Send puts them back.
    assert win.sending.on_slm == () and win.targets_panel.send_button.isEnabled()


def test_a_mid_run_screenshot_then_abort_closes_the_gate(qtbot, make_window, sim_config, artifacts):
    win = make_window(sim_config(), size=(1600, 950))
    s = win.session
    four_neurons_in_two_groups(qtbot, win)
    dock = groups_to_patterns(qtbot, win, duration_ms=LONG_STEP_MS)
    now = [1000.0]
    dock.clock = lambda: now[0]  # the countdown's clock (the run keeps its own)
    press(qtbot, dock.run_button)
    # The gate's light and the step's labels come by separate queued signals: wait for both.
    qtbot.waitUntil(lambda: s.daq.gate_open and dock.gate_light.text() == "GATE OPEN"
                    and len(win.camera_view.highlighted()) == 2 and dock.state == "running"
                    and dock.step_label.text() == "1 / 2", timeout=60_000)
    assert dock.pattern_label.text() == "group 1"
    assert dock.trial_label.text() == "1 / 1"
    assert dock.time_left_label.text() == f"{2 * LONG_STEP_MS / 1e3:.1f} s"
    now[0] += 5.0
    dock.tick()
    assert dock.time_left_label.text() == f"{2 * LONG_STEP_MS / 1e3 - 5:.1f} s"
    assert win.status_panel.text("spots") == "protocol pattern 'group 1'"
    np.testing.assert_array_equal(win.mask_preview.data, dock.current_run.prepared["group 1"].frame)
    np.testing.assert_array_equal(s.slm.last_frame, dock.current_run.prepared["group 1"].frame)

    # Target edits are refused while the run owns the SLM, and say why.
    n = len(win.store)
    win.show_message("something else")
    x, y = win.store.targets[0].x + 30, win.store.targets[0].y
    click(qtbot, win, x, y)
    assert len(win.store) == n and win.last_message == LOCKED

    # The simulated laser reaches the camera only through the open gate: wait for a frame exposed after
    # the gate opened and drawn by the view, then take the picture.
    t_open = max(e.t for e in s.daq.events("gate_out") if e.value)
    lit: list[int] = []

    def camera_has_lit_frame() -> bool:
        f = s.camera.latest()
        if not lit and f is not None and f.timestamp >= t_open + LIT_S:
            lit.append(f.counter)
        return bool(lit)

    qtbot.waitUntil(camera_has_lit_frame, timeout=30_000)
    drawn: list[int] = []
    win.camera_view.frameShown.connect(drawn.append)
    qtbot.waitUntil(lambda: bool(drawn) and drawn[-1] >= lit[0], timeout=30_000)
    assert s.daq.gate_open  # still the first step
    path = artifacts / "gui_protocol_run.png"
    assert win.grab().save(str(path))
    img = QImage(str(path))
    assert (img.width(), img.height()) == (win.width(), win.height())

    press(qtbot, dock.abort_button)
    assert not s.daq.gate_open  # closed by the click itself, on the GUI thread
    qtbot.waitUntil(lambda: dock.state == "aborted", timeout=30_000)
    assert dock.gate_light.text().startswith("GATE CLOSED: ") and "abort" in dock.gate_light.text()
    assert dock.current_run.outcome == ("aborted", "the user pressed Abort")
    assert win.camera_view.highlighted() == [] and win.targets_panel.isEnabled()
    (end,) = records(s.log.path, "protocol_end")
    assert end["outcome"] == "aborted" and end["steps_done"] == 0


def test_a_refused_pattern_is_reported_and_nothing_runs(qtbot, make_window, sim_config):
    win = make_window(sim_config())
    s = win.session
    for x, y in pick_neurons(s, 2, min_dist=30):
        win.store.add(x, y, group=1)
    zx, zy = s.calibration.zero_order_camera()
    win.store.add(zx + 1, zy + 1, group=2)  # in the zero order: refused, kept in the table
    assert win.store.reasons[2] is not None
    # The two accepted targets are sent (Auto send) and lit: the gate opened for them.
    qtbot.waitUntil(lambda: win.sending.worker.idle and s.daq.gate_open, timeout=20_000)
    dock = groups_to_patterns(qtbot, win, duration_ms=50)
    n_gate, n_light = len(s.daq.events("gate_out")), len(dock.gate_light.history)
    press(qtbot, dock.run_button)
    assert not s.daq.gate_open  # a run starting turns the targets' light off at once
    qtbot.waitUntil(lambda: dock.state == "refused", timeout=60_000)
    assert "pattern 'group 2'" in dock.error_text and "zero" in dock.error_text
    assert "'group 1'" not in dock.error_text
    assert "protocol refused" in win.last_message
    assert not any(e.value for e in s.daq.events("gate_out")[n_gate:])  # nothing ran: no light since
    assert dock.gate_light.history[n_light:] == ["GATE CLOSED: a protocol run starts"]
    assert records(s.log.path, "step") == [] and records(s.log.path, "protocol") == []
    assert win.targets_panel.isEnabled() and dock.run_button.isEnabled()


def test_closing_the_window_during_a_run_aborts_it_first(qtbot, make_window, sim_config):
    win = make_window(sim_config())
    s = win.session
    four_neurons_in_two_groups(qtbot, win)
    dock = groups_to_patterns(qtbot, win, duration_ms=LONG_STEP_MS)
    press(qtbot, dock.run_button)
    qtbot.waitUntil(lambda: s.daq.gate_open, timeout=60_000)
    run = dock.current_run
    path = s.log.path
    win.close()
    assert win.session is None and s.closed
    assert not s.daq.gate_open
    assert run.outcome == ("aborted", "the window is closing")
    recs = read_log(path).records
    close = next(r for r in recs if r["type"] == "gate" and not r["open"] and "abort" in r["reason"])
    end = next(r for r in recs if r["type"] == "protocol_end")
    last = recs[-1]
    assert close["seq"] < end["seq"] < last["seq"] and last["type"] == "session_end"
    assert end["outcome"] == "aborted"


def test_pause_holds_the_next_step_until_resume(qtbot, make_window, sim_config):
    win = make_window(sim_config())
    s = win.session
    four_neurons_in_two_groups(qtbot, win)
    dock = groups_to_patterns(qtbot, win, duration_ms=PAUSED_STEP_MS)
    press(qtbot, dock.run_button)
    qtbot.waitUntil(lambda: s.daq.gate_open, timeout=60_000)  # the first step is on
    press(qtbot, dock.pause_button)
    assert dock.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: dock.state == "paused", timeout=30_000)
    done = dock.current_run.times
    assert len(done) == 1 and not s.daq.gate_open  # held before the second step, the gate closed
    press(qtbot, dock.pause_button)
    qtbot.waitUntil(lambda: dock.state == "completed", timeout=30_000)
    assert [t.pattern for t in dock.current_run.times] == ["group 1", "group 2"]


def test_without_a_daq_the_dock_says_why_and_run_is_off(qtbot, make_window, sim_config):
    win = make_window(sim_config(daq=None))
    dock = win.protocol_panel
    assert win.session.daq is None
    assert not dock.run_button.isEnabled() and dock.error_text == NO_DAQ
    assert dock.gate_light.text() == "GATE CLOSED: no DAQ"


# ================================================================================ editing, files, errors
def editor_with_two_groups(qtbot):
    from holostim.session import Target

    store = TargetStore()
    store.set_targets([Target(10.0, 10.0, 1.0, 3, 1), Target(20.0, 20.0, 1.0, 0, 2),
                       Target(30.0, 30.0, 1.0, 3, 3)])
    dock = ProtocolDock(store)
    qtbot.addWidget(dock)
    press(qtbot, dock.editor.groups_button)
    return dock


def test_patterns_from_groups_one_per_group_power_editable(qtbot):
    dock = editor_with_two_groups(qtbot)
    ed = dock.editor
    assert ed.pattern_names() == ["group 0", "group 3"]
    ed.patterns_table.item(1, 2).setText("2.5")
    p = ed.protocol()
    assert p.patterns["group 3"].group == 3 and p.patterns["group 3"].power_mw_per_spot == 2.5
    assert p.patterns["group 0"].power_mw_per_spot is None  # empty: the rig's laser power
    assert [st.pattern for st in p.schedule.steps] == ["group 0", "group 3"]
    # Pressing again keeps the typed power and the steps of the patterns still there.
    ed.set_step(1, duration_ms="35")
    press(qtbot, ed.groups_button)
    p = ed.protocol()
    assert p.patterns["group 3"].power_mw_per_spot == 2.5 and p.schedule.steps[1].duration_ms == 35
    # Renaming a pattern renames it in its steps.
    ed.patterns_table.item(1, 0).setText("ensemble A")
    assert [st.pattern for st in ed.protocol().schedule.steps] == ["group 0", "ensemble A"]


def test_bad_input_is_one_line_and_loses_nothing(qtbot, tmp_path):
    dock = editor_with_two_groups(qtbot)
    ed = dock.editor
    ed.set_step(0, duration_ms="abc")
    assert dock.error_text == "step 1: duration ms: 'abc' is not a number"
    out = tmp_path / "p.yaml"
    assert dock.save(out) is None and not out.exists()  # nothing written
    assert ed.steps_table.item(0, 1).text() == "abc"  # and nothing the user typed is lost
    ed.set_step(0, duration_ms="-5")
    assert dock.error_text.startswith("step 1: duration ms: ") and "greater than 0" in dock.error_text
    ed.set_step(0, duration_ms="30")
    ed.seed_edit.setText("x1")
    ed.seed_edit.textEdited.emit("x1")
    assert dock.error_text.startswith("seed: 'x1' is not a whole number")
    ed.seed_edit.setText("7")
    ed.seed_edit.textEdited.emit("7")
    assert dock.error_text.startswith("2 steps (2 × 1)"), dock.error_text


def test_save_and_load_give_back_the_same_protocol(qtbot, tmp_path):
    dock = editor_with_two_groups(qtbot)
    ed = dock.editor
    ed.set_step(0, duration_ms="30", power_mw_per_spot="1.5")
    ed.add_step("group 3", 45.5)
    ed.repetitions_spin.setValue(3)
    ed.inter_trial_spin.setValue(250.25)
    ed.baseline_pre_spin.setValue(100)
    ed.order_combo.setCurrentText("random")
    ed.seed_edit.setText("12345")
    ed.trigger_combo.setCurrentIndex(2)
    ed.timeout_spin.setValue(5)
    ed.name_edit.setText("mapping")
    before = ed.protocol()
    out = dock.save(tmp_path / "mapping")  # the dialog adds .yaml; save() takes the name as given
    assert out is not None and out.exists() and dock.file_label.text() == "mapping"

    other = editor_with_two_groups(qtbot)
    assert other.load(out)
    assert other.editor.protocol() == before
    assert other.editor.protocol().to_dict() == before.to_dict()
    assert before.schedule.trigger == "ttl_start" and before.schedule.seed == 12345


def test_a_shipped_example_loads_and_saves_unchanged(qtbot, tmp_path):
    from holostim.protocol.model import load_protocol

    example = ROOT / "config" / "protocol-single-cells.yaml"
    dock = ProtocolDock(TargetStore())
    qtbot.addWidget(dock)
    assert dock.load(example), dock.error_text
    ed = dock.editor
    assert ed.patterns_table.item(0, 1).text() == "ids 1 of single-cells-targets.csv"
    assert ed.patterns_table.item(0, 2).text() == "3"
    out = dock.save(tmp_path / "copy.yaml")
    assert out is not None
    assert load_protocol(out) == load_protocol(example)  # the target file's path still resolves
    ed.steps_table.selectRow(0)
    press(qtbot, ed.remove_step_button)
    assert "no step shows 'cell01'" in dock.error_text


def test_the_file_dialogs_load_and_save(qtbot, tmp_path, monkeypatch):
    from PyQt6.QtWidgets import QFileDialog

    dock = editor_with_two_groups(qtbot)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "saved"), ""))
    press(qtbot, dock.save_button)
    assert (tmp_path / "saved.yaml").exists()  # a bare name gets .yaml
    other = editor_with_two_groups(qtbot)
    other.editor.name_edit.setText("something else")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "saved.yaml"), ""))
    press(qtbot, other.load_button)
    assert other.editor.protocol() == dock.editor.protocol() and other.path == tmp_path / "saved.yaml"


def test_a_bad_file_is_one_line_naming_file_and_line_and_the_editor_keeps_its_protocol(qtbot, tmp_path):
    dock = editor_with_two_groups(qtbot)
    before = dock.editor.protocol()
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\npatterns:\n  a: {group: 1}\nschedule:\n  steps:\n"
                   "    - {pattern: a, duration_ms: 10, colour: red}\n")
    assert not dock.load(bad)
    assert "bad.yaml:7" in dock.error_text and "colour" in dock.error_text
    assert "\n" not in dock.error_text
    assert dock.editor.protocol() == before
    assert not dock.load(tmp_path / "missing.yaml")
    assert "missing.yaml" in dock.error_text and dock.editor.protocol() == before


def test_patterns_from_groups_without_targets_says_what_to_do(qtbot):
    dock = ProtocolDock(TargetStore())
    qtbot.addWidget(dock)
    assert dock.error_text.startswith("no patterns: press 'Patterns from groups'")
    press(qtbot, dock.editor.groups_button)
    assert dock.error_text.startswith("no targets: click neurons")
    assert dock.editor.pattern_names() == []


def test_a_closed_loop_protocol_is_not_loaded_into_the_schedule_editor(qtbot, tmp_path):
    """It is loaded to be run as it is (tests/gui/test_closed_loop_gui.py runs one); an edit drops it."""
    path = tmp_path / "loop.yaml"
    path.write_text("version: 1\nname: loop\npatterns: {b: {ids: [2]}}\nclosed_loop:\n  duration_ms: 1000\n"
                    "  rules: [{name: r, when: {roi: 1, dff_above: 0.2}, do: {show: b, duration_ms: 10}}]\n")
    dock = ProtocolDock(TargetStore())
    qtbot.addWidget(dock)
    before = dock.editor.pattern_names()
    assert dock.load(path)
    assert dock.closed_loop is not None and dock.editor.pattern_names() == before
    assert dock.error_text.startswith("closed loop: 1 rules on ROIs on the targets, 1.0 s")
    assert dock.path == path
    dock.editor.repetitions_spin.setValue(dock.editor.repetitions_spin.value() + 1)  # the user edits
    assert dock.closed_loop is None and not dock.error_text.startswith("closed loop")
