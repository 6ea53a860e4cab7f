"""Targets at depth in the GUI, as a person places them: the z spin box, a click, the table, the files.

The simulated camera images one plane, which its ``focus_um`` moves (as a camera on a focus drive
would); the test of a camera without one takes that attribute away (``NO_FOCUS_STAND_IN``: a stand-in
for a rig camera holostim cannot focus). Every gesture is a real mouse or key event; what the session
showed is read back from its ``ApplyResult`` and its log.
"""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import drag, pick_neurons
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QAbstractSpinBox, QApplication

from holostim.eventlog import read as read_log
from holostim.gui.target_table import STATUS_COLUMN, Z_COLUMN
from holostim.hardware.camera.simulated import SimulatedCamera


@pytest.fixture
def no_focus(monkeypatch):
    """NO_FOCUS_STAND_IN: the simulated camera without its ``focus_um``, as a camera with no focus drive."""
    monkeypatch.setattr(SimulatedCamera, "focus_um", None)


def neurons_on_planes(session, planes, per_plane, min_dist=40.0):
    """``per_plane`` usable, separated neurons on each depth of ``planes``: ``[(x, y, z), ...]``."""
    xy = np.asarray(session.camera.neuron_positions, dtype=float)
    depth = np.asarray(session.camera.neuron_depths_um, dtype=float)
    out = []
    for z in planes:
        n = 0
        for (x, y), d in zip(xy, depth, strict=True):
            if abs(d - z) > 1e-6 or session.check_target(x, y, z) is not None:
                continue
            if all(np.hypot(x - a, y - b) >= min_dist for a, b, _ in out):
                out.append((float(x), float(y), float(z)))
                n += 1
            if n == per_plane:
                break
        assert n == per_plane, f"fewer than {per_plane} usable neurons on the {z} µm plane"
    return out


def click(qtbot, win, x, y):
    qtbot.mouseClick(win.camera_view.graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=win.camera_view.viewport_pos(x, y))


def type_into(qtbot, spin, text):
    """Select the spin box's text, type ``text`` and press Return, as a person edits a number."""
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), text)
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)


def edit_cell(qtbot, table, row, col, text):
    """Double-click a table cell, type over it and press Return."""
    rect = table.visualRect(table.table_model.index(row, col))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert table.state() == table.State.EditingState
    # the cell's editor (no window manager under Xvfb: read it from the table, not from the focus)
    (editor,) = [w for w in table.viewport().findChildren(QAbstractSpinBox) if w.isVisible()]
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: table.state() != table.State.EditingState)  # the delegate commits queued


def records(session, kind):
    return [r for r in read_log(session.log.path).records if r["type"] == kind]


def shown(win, qtbot, n, z=None):
    sent = win.sending
    qtbot.waitUntil(lambda: sent.last_result is not None and len(sent.last_result.targets) == n
                    and sent.worker.idle and (z is None or [t.z_um for t in sent.last_result.targets] == z),
                    timeout=30_000)
    return sent.last_result


def test_a_click_places_a_target_at_the_chosen_depth_and_it_is_drawn_on_its_plane(
        qtbot, make_window, sim_config, tmp_path):
    win = make_window(sim_config())
    s, view, bar = win.session, win.camera_view, win.camera_view.depth_bar
    assert bar.focus_spin.isVisible() and bar.focus_text() == "camera focus z = +0 µm"
    half = s.config.defocus_model().axial_resolution_um / 2
    assert view.plane_half_width_um == pytest.approx(half)

    type_into(qtbot, bar.new_z, "20")
    assert bar.new_depth_um == 20.0
    (a, b) = pick_neurons(s, 2)
    click(qtbot, win, *a)
    r = shown(win, qtbot, 1)
    assert [t.z_um for t in r.targets] == [20.0]  # the pattern on the SLM was computed for +20 µm
    assert [t["z_um"] for t in records(s, "pattern")[-1]["targets"]] == [20.0]
    m = win.table.table_model
    assert m.data(m.index(0, Z_COLUMN)) == "+20.0" and m.data(m.index(0, STATUS_COLUMN)) == "on SLM"
    assert win.table.horizontalHeader().visualIndex(Z_COLUMN) == 3  # shown after x and y
    # The camera images the focal plane: the target's cell is 20 µm deeper, so its marker is dim.
    assert view.marker_depths() == [(f"{r.targets[0].id} · +20 µm", True)]

    # Move the camera's focus to the target's plane: it is drawn as on the plane, and new clicks follow.
    type_into(qtbot, bar.focus_spin, "20")
    assert s.camera.focus_um == 20.0 and bar.focus_text() == "camera focus z = +20 µm"
    assert view.marker_depths() == [(str(r.targets[0].id), False)]
    assert bar.new_depth_um == 20.0
    type_into(qtbot, bar.new_z, "0")
    click(qtbot, win, *b)
    r = shown(win, qtbot, 2)
    assert [t.z_um for t in r.targets] == [20.0, 0.0]
    # Within half the axial resolution counts as the camera's plane; further does not.
    type_into(qtbot, bar.focus_spin, f"{20 - 0.9 * half:.1f}")
    assert [dim for _, dim in view.marker_depths()] == [False, True]

    # A drag moves the target in x and y; its depth stays.
    k = win.sending.shown_count
    drag(view.graphics.viewport(), view.viewport_pos(*a), view.viewport_pos(a[0] - 15, a[1] - 10))
    qtbot.waitUntil(lambda: win.sending.worker.idle and win.sending.shown_count > k, timeout=30_000)
    t0 = win.store.targets[0]
    assert abs(t0.x - a[0] + 15) < 1 and t0.z_um == 20.0
    assert records(s, "pattern")[-1]["targets"][0]["z_um"] == 20.0

    # Edit the depth in the table: the SLM follows; one the session cannot reach is refused with why.
    edit_cell(qtbot, win.table, 0, Z_COLUMN, "-15")
    r = shown(win, qtbot, 2, z=[-15.0, 0.0])
    assert records(s, "pattern")[-1]["targets"][0]["z_um"] == -15.0
    edit_cell(qtbot, win.table, 1, Z_COLUMN, "450")
    assert win.store.targets[1].z_um == 450.0 and win.store.reasons[1] is not None
    assert m.data(m.index(1, STATUS_COLUMN)) == "refused: too deep"
    assert "safety.max_depth_um = 300" in win.last_message and "z = +450 µm" in win.last_message
    refusal = records(s, "refusal")[-1]
    assert refusal["z_um"] == 450.0 and "max_depth_um" in refusal["reason"]
    r = shown(win, qtbot, 1, z=[-15.0])  # the refused target is not sent; the other stays lit

    # Save and load the targets: every depth comes back.
    path = win.save_targets(tmp_path / "deep.csv")
    before = [(t.id, t.z_um) for t in win.store.targets]
    win.store.clear()
    win.load_targets(path)
    assert [(t.id, t.z_um) for t in win.store.targets] == before == [(1, -15.0), (2, 450.0)]
    assert win.store.reasons[1] is not None  # still refused after loading


def test_a_camera_without_a_focus_images_the_focal_plane_only(qtbot, make_window, sim_config, no_focus):
    win = make_window(sim_config())
    bar = win.camera_view.depth_bar
    assert getattr(win.session.camera, "focus_um", None) is None
    assert not bar.focus_spin.isVisible()
    assert bar.focus_text() == "camera focus fixed at 0 µm (the focal plane)"
    assert bar.new_z.maximum() == pytest.approx(300.0)  # safety.max_depth_um is the nearer limit
    win.store.add(100.0, 100.0, z_um=0.5)
    win.store.add(120.0, 100.0, z_um=-30.0)
    assert [dim for _, dim in win.camera_view.marker_depths()] == [False, True]


def test_a_screenshot_with_targets_on_three_planes(qtbot, make_window, sim_config, artifacts):
    # Neurons on three planes; the camera will image the +25 µm one (the others blurred, as they look).
    win = make_window(sim_config(slm_shape=(512, 512), camera_shape=(512, 512),
                                 engine={"backend": "numpy", "iterations": 20},
                                 simulation={"planes_um": [-40.0, 0.0, 25.0], "n_neurons": 60}),
                      size=(1600, 950))
    s, bar = win.session, win.camera_view.depth_bar
    for x, y, z in neurons_on_planes(s, (0.0, 25.0, -40.0), 2):
        type_into(qtbot, bar.new_z, f"{z:g}")
        click(qtbot, win, x, y)
    r = shown(win, qtbot, 6)
    assert sorted({t.z_um for t in r.targets}) == [-40.0, 0.0, 25.0]
    qtbot.waitUntil(lambda: win.last_message.startswith("sent 6 spots on 3 planes: efficiency"))
    type_into(qtbot, bar.focus_spin, "25")  # the camera images the +25 µm plane
    labels = win.camera_view.marker_depths()
    assert [dim for _, dim in labels] == [True, True, False, False, True, True]
    assert labels[0][0].endswith("· +0 µm") and labels[4][0].endswith("· -40 µm")
    for spin in (bar.new_z, bar.focus_spin):  # typed text unselected, as after a click elsewhere
        spin.lineEdit().deselect()
    QApplication.processEvents()
    path = artifacts / "screenshot-3d.png"  # copied to assets/screenshot-3d.png by hand, after a look
    assert win.grab().save(str(path))
    img = QImage(str(path))
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 500  # the camera image, markers and previews: not a blank window


def test_a_zero_order_click_says_how_far_to_shift_the_field(qtbot, make_window, sim_config):
    win = make_window(sim_config())
    s = win.session
    (a,) = pick_neurons(s, 1)
    click(qtbot, win, *a)
    shown(win, qtbot, 1)
    zx, zy = s.calibration.zero_order_camera()
    click(qtbot, win, zx + 1, zy + 1)
    msg = win.last_message
    assert "zero-order" in msg and "shift the field by (" in msg and "move the stage" in msg
    # The shift the message gives, applied to every target (as a stage move would), is accepted.
    plan = s.field_shift(list(win.store.targets))
    assert f"({plan.sample_um[0]:+.1f}, {plan.sample_um[1]:+.1f}) µm" in msg
    win.store.move_many({i: (t.x + plan.camera_px[0], t.y + plan.camera_px[1])
                         for i, t in enumerate(win.store.targets)})
    assert win.store.reasons == [None, None]
    shown(win, qtbot, 2)
