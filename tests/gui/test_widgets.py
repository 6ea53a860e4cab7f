"""Target table, target files, and the two workers (coalescing compute, stale-dropping frame pump)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from holostim.errors import HolostimError
from holostim.gui.status import StatusPanel
from holostim.gui.target_store import TargetStore
from holostim.gui.target_table import TargetTable
from holostim.gui.workers import ComputeWorker, FramePump
from holostim.session import Target as T
from holostim.session.target_files import TargetFileError, load_targets, save_targets


@pytest.fixture
def store():
    return TargetStore(check=lambda x, y: "outside the field" if x > 100 else None, make_target=T)


def test_table_edits_and_selection_follow_the_store(qtbot, store):
    table = TargetTable(store)
    qtbot.addWidget(table)
    store.add(10, 20)
    store.add(150, 30)
    m = table.table_model
    assert m.rowCount() == 2
    assert m.data(m.index(1, 5)) == "refused: outside SLM field"
    assert m.data(m.index(1, 5), Qt.ItemDataRole.ToolTipRole) == "not sent to the SLM: outside the field"
    assert m.setData(m.index(0, 3), "2.5")
    assert m.setData(m.index(0, 1), 12.0)
    assert store.targets[0] == T(12.0, 20.0, 2.5, 0, id=1)
    assert not m.setData(m.index(0, 3), "-1")  # weights must be positive
    assert not m.setData(m.index(0, 4), "abc")
    assert m.setData(m.index(1, 1), 50.0)  # moving the refused target into the field accepts it
    assert store.reasons == [None, None]
    store.set_selection([1])
    assert [i.row() for i in table.selectionModel().selectedRows()] == [1]
    table.selectRow(0)
    assert store.selection == [0]
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Delete)
    assert store.targets == [T(50.0, 30.0, id=2)]
    assert m.data(m.index(0, 0)) == 2  # the # column is the id: not renumbered after the delete
    assert m.data(m.index(0, 5)) == "not sent"  # no pattern with it has reached the SLM
    table.table_model.set_on_slm([T(50.0, 30.0, id=2)])
    assert m.data(m.index(0, 5)) == "on SLM"


def test_power_column_shows_the_prediction_of_the_pattern_on_the_slm(qtbot, store):
    table = TargetTable(store)
    qtbot.addWidget(table)
    store.add(10, 20)
    store.add(30, 40)
    m = table.table_model
    a, b = store.targets
    m.set_power([a, b], [1.234, 5.0])
    assert [m.data(m.index(r, 6)) for r in range(2)] == ["", ""]  # not on the SLM: no prediction shown
    m.set_on_slm([a, b])
    assert [m.data(m.index(r, 6)) for r in range(2)] == ["1.23", "5.00"]
    assert "max_power_per_spot_mw" in m.data(m.index(0, 6), Qt.ItemDataRole.ToolTipRole)
    m.set_on_slm([b])  # a test pattern or another pattern replaced it: the old numbers go
    assert [m.data(m.index(r, 6)) for r in range(2)] == ["", "5.00"]
    m.set_power([a], None)
    m.set_on_slm([a])
    assert m.data(m.index(0, 6)) == "?"  # safety.laser_power_mw not stated


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_target_files_round_trip(tmp_path, suffix):
    ts = [T(1.5, 2.25, 1.0, 0, id=4), T(300.0, 40.0, 0.5, 2), T(5.0, 6.0, id=1)]
    p = save_targets(tmp_path / f"t{suffix}", ts)
    assert [T(**r) for r in load_targets(p)] == ts


def test_target_files_bad_input(tmp_path):
    with pytest.raises(TargetFileError, match="use a .csv or .json"):
        save_targets(tmp_path / "t.txt", [])
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(TargetFileError, match="header 'a,b' is not a target file header.*x_camera_px"):
        load_targets(tmp_path / "bad.csv")
    (tmp_path / "neg.json").write_text('[{"x": 1, "y": 2, "weight": -1}]')
    with pytest.raises(TargetFileError, match="target 1 weight=-1 must be a positive, finite number"):
        load_targets(tmp_path / "neg.json")
    (tmp_path / "inf.csv").write_text("x_camera_px,y_camera_px\ninf,2\n")
    with pytest.raises(TargetFileError, match=r"target 1 x='inf' must be a finite number"):
        load_targets(tmp_path / "inf.csv")
    (tmp_path / "group.json").write_text('[{"x": 1, "y": 2, "group": -2}]')
    with pytest.raises(TargetFileError, match="target 1 group=-2 must be a finite number ≥ 0"):
        load_targets(tmp_path / "group.json")
    with pytest.raises(TargetFileError, match="does not exist"):
        load_targets(tmp_path / "missing.csv")
    assert issubclass(TargetFileError, HolostimError) and issubclass(TargetFileError, ValueError)


class GatedSession:
    """Stands in for the session's compute path only: records which target sets it was asked for.

    Each compute waits until the test opens the gate, so what arrives "while it runs" is decided by the
    test, not by how fast the machine is.
    """

    def __init__(self):
        self.calls = []
        self.threads = set()
        self.started = threading.Event()
        self.gate = threading.Event()

    def apply(self, targets, request_time=None):
        self.threads.add(threading.get_ident())
        self.calls.append(list(targets))
        self.started.set()
        assert self.gate.wait(10), "the test never opened the gate"
        if any(t.x < 0 for t in targets):
            raise HolostimError("negative x refused")
        return SimpleNamespace(targets=list(targets), phase=np.zeros((4, 4)),
                               frame=np.zeros((4, 4), np.uint8))

    def predicted_intensity(self, phase):
        return np.ones_like(phase)


def test_compute_worker_coalesces_and_runs_off_the_gui_thread(qtbot):
    s = GatedSession()
    w = ComputeWorker(s)
    results, failures = [], []
    w.finished.connect(lambda o: results.append(o))
    w.failed.connect(lambda req, reason: failures.append(reason))
    w.submit([T(1, 0)])
    assert s.started.wait(5)  # the first set is being computed ...
    for k in range(2, 8):  # ... while six more rapid "clicks" arrive
        w.submit([T(k, 0)])
    assert not w.idle
    s.gate.set()
    qtbot.waitUntil(lambda: w.idle and len(results) == 2, timeout=5000)
    # The first set started at once; of the six that arrived while it ran only the newest is computed.
    assert [c[-1].x for c in s.calls] == [1, 7]
    assert w.skipped == 5
    assert results[-1].result.targets == [T(7, 0)]
    assert results[-1].predicted.shape == (4, 4)
    assert threading.main_thread().ident not in s.threads
    w.submit([T(-1, 0)])
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    assert failures == ["negative x refused"]
    w.stop()


class ManualCamera:
    """A camera whose frame counter the test sets; counts how often the pump looked at it."""

    def __init__(self):
        self.counter = -1
        self.polls = 0
        self.lock = threading.Lock()

    def show(self, counter):
        with self.lock:
            self.counter, self.polls = counter, 0

    def latest(self):
        with self.lock:
            self.polls += 1
            if self.counter < 0:
                return None
            return np.full((8, 8), self.counter, np.uint16), self.counter


def test_frame_pump_delivers_latest_and_drops_stale(qtbot):
    cam = ManualCamera()
    pump = FramePump(cam, poll_ms=2)
    got = []
    pump.frameReady.connect(lambda f, c: got.append((int(f[0, 0]), c)))
    cam.show(0)
    qtbot.waitUntil(lambda: len(got) == 1, timeout=3000)
    # The GUI "is busy" (no ack): newer frames come, the pump sees each of them and forwards none.
    for counter in (5, 17, 40):
        cam.show(counter)
        qtbot.waitUntil(lambda: cam.polls >= 3, timeout=3000)
    QApplication.processEvents()  # a frame the pump had forwarded would be delivered now
    assert got == [(0, 0)]
    pump.ack()
    qtbot.waitUntil(lambda: len(got) == 2, timeout=3000)
    # The next delivered frame is the newest one; the 39 frames in between were dropped, never queued.
    assert got[1] == (40, 40)
    assert pump.dropped == 39 and pump.delivered == 2
    pump.stop()


def test_interlock_indicator_and_status(qtbot):
    p = StatusPanel()
    qtbot.addWidget(p)
    p.interlock.set_state(True)
    assert p.interlock.text() == "LASER PERMITTED" and "1f8f3a" in p.interlock.styleSheet()
    p.interlock.set_state(False, "SLM window not exposed")
    assert p.interlock.text() == "BLOCKED: SLM window not exposed" and "c62828" in p.interlock.styleSheet()
    r = SimpleNamespace(
        targets=[1, 2, 3], iterations=20, click_to_swap_ms=42.0,
        metrics=SimpleNamespace(efficiency=0.81234, uniformity=0.955),
        timings=SimpleNamespace(total_ms=31.25),
    )
    p.set_result(r)
    assert [p.text(k) for k in ("spots", "efficiency", "uniformity", "iterations", "compute_ms",
                                "click_to_swap_ms")] == ["3", "81.2 %", "95.5 %", "20", "31.2 ms", "42.0 ms"]


def test_frame_pump_reports_a_dead_camera(qtbot):
    from holostim.hardware.camera import CameraError

    class Dead:
        polls = 0

        def latest(self):
            Dead.polls += 1
            raise CameraError("camera 'x' stopped streaming: cable pulled")

    pump = FramePump(Dead(), poll_ms=2)
    errors = []
    pump.failed.connect(errors.append)
    qtbot.waitUntil(lambda: bool(errors) and Dead.polls >= 5, timeout=3000)
    QApplication.processEvents()  # deliver any repeats the pump had emitted
    assert errors == ["camera 'x' stopped streaming: cable pulled"]  # once, not at every poll
    pump.stop()
