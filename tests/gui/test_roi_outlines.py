"""Imported ROI outlines on the camera view, picked as a person picks them: clicks, a band, P ≥ p.

The ROIs are a suite2p plane written as suite2p writes it, with discs on the simulated neurons (so the
screenshot shows outlines over real cells); every gesture is a real mouse event on the camera view.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_helpers import drag, pick_neurons
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFileDialog

PROBS = [0.95, 0.30, 0.80, 0.60, 0.90, 0.20]
RADIUS = 9  # a generous soma outline (the simulated somata have radius 6 px)


def _plane(folder: Path, centres, probs) -> Path:
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[-RADIUS:RADIUS + 1, -RADIUS:RADIUS + 1]
    disc = xx ** 2 + yy ** 2 <= RADIUS ** 2
    stat = np.empty(len(centres), dtype=object)
    rows = []
    for x, y in centres:
        cx, cy = int(round(x)), int(round(y))
        xpix, ypix = (xx[disc] + cx).astype(np.int32), (yy[disc] + cy).astype(np.int32)
        rows.append({"xpix": xpix, "ypix": ypix, "lam": np.ones(len(xpix), np.float32),
                     "med": [float(cy), float(cx)], "npix": len(xpix)})
    stat[:] = rows
    np.save(folder / "stat.npy", stat)
    np.save(folder / "iscell.npy", np.array([[p >= 0.5, p] for p in probs], np.float64))
    np.save(folder / "ops.npy", {"Ly": 256, "Lx": 256})
    return folder


def _import(win, monkeypatch, folder):
    answers = [str(folder / "stat.npy"), ""]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (answers.pop(0), "")))
    next(a for a in win.actions() if a.text() == "&Import ROIs…").trigger()


def _ids(win):
    return sorted(t.id for t in win.store.targets)


def test_outlines_are_drawn_and_picked_by_click_band_and_probability(qtbot, make_window, sim_config,
                                                                     tmp_path, monkeypatch, artifacts):
    win = make_window(sim_config(), size=(1500, 900))
    win.targets_panel.auto_check.setChecked(False)
    s = win.session
    centres = pick_neurons(s, 6, min_dist=2.5 * RADIUS + 4)
    _import(win, monkeypatch, _plane(tmp_path / "plane0", centres, PROBS))
    view, overlay, bar = win.camera_view, win.camera_view.rois, win.targets_panel.roi_bar
    qtbot.waitUntil(lambda: view.frame is not None, timeout=10_000)
    # All six outlines drawn; the analysis's cells (iscell flag) are the targets, ids = ROI id + 1.
    assert len(overlay.rois) == 6 and _ids(win) == [1, 3, 4, 5]
    assert overlay.picked_ids() == [1, 3, 4, 5]
    assert bar.isVisible() and bar.count_label.text() == "ROIs: 6 outlines, 4 picked"
    vp = view.graphics.viewport()

    def click(x, y):
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=view.viewport_pos(x, y))

    # A click inside an unpicked outline, away from its centre, picks it; one inside a picked outline
    # but off its marker unpicks it (the marker itself still selects, as before).
    (x1, y1), (x0, y0) = centres[1], centres[0]
    click(x1 + 3, y1)
    assert _ids(win) == [1, 2, 3, 4, 5]
    t2 = next(t for t in win.store.targets if t.id == 2)
    assert (t2.x, t2.y) == pytest.approx((round(x1), round(y1)))  # the ROI's centroid, not the click
    a, b = view.viewport_pos(x0, y0), view.viewport_pos(x0 + 1, y0)
    d = 13.0 / (b.x() - a.x())  # camera px that are 13 screen px: beyond the marker's grab radius (10)
    assert d < RADIUS - 1, "the view is too small for a click off the marker but inside the outline"
    click(x0 + d, y0)
    assert _ids(win) == [2, 3, 4, 5]
    click(*centres[2])  # on a picked outline's marker: selects the target, picks nothing
    assert _ids(win) == [2, 3, 4, 5]
    assert [win.store.targets[i].id for i in win.store.selection] == [3]

    # Shift + band around the unpicked outlines 1 and 6 (ids 1, 6) picks them (and selects their targets).
    for k in (0, 5):
        x, y = centres[k]
        drag(vp, view.viewport_pos(x - RADIUS - 2, y - RADIUS - 2),
             view.viewport_pos(x + RADIUS + 2, y + RADIUS + 2), mods=Qt.KeyboardModifier.ShiftModifier)
    assert _ids(win) == [1, 2, 3, 4, 5, 6]

    # A click on the image away from every outline is still a hand-placed target.
    far = next((x, y) for x, y in pick_neurons(s, 12, min_dist=4) if overlay.roi_at(x, y) is None
               and all(np.hypot(x - cx, y - cy) > 3 * RADIUS for cx, cy in centres))
    click(*far)
    assert len(win.store.targets) == 7
    hand = next(t for t in win.store.targets if t.id not in range(1, 7))

    # "All cells with P ≥ 0.7": exactly ROIs 0, 2, 4 (ids 1, 3, 5); the hand-placed target stays.
    bar.prob_spin.setValue(0.7)
    qtbot.mouseClick(bar.pick_button, Qt.MouseButton.LeftButton)
    assert _ids(win) == sorted([1, 3, 5, hand.id])
    assert bar.count_label.text() == "ROIs: 6 outlines, 3 picked"

    # Deleting a picked ROI's marker unpicks its outline: the store is the one truth.
    win.store.remove([i for i, t in enumerate(win.store.targets) if t.id == 5])
    assert overlay.picked_ids() == [1, 3]

    win.store.set_selection([])
    qtbot.wait(200)  # a few camera frames under the outlines
    path = artifacts / "gui_roi_outlines.png"
    assert win.grab().save(str(path))

    qtbot.mouseClick(bar.hide_button, Qt.MouseButton.LeftButton)
    assert overlay.rois == [] and not bar.isVisible()
    assert len(win.store.targets) == 3  # hiding the outlines keeps the targets


def test_outlines_follow_the_registration_and_hit_test_their_inside(tmp_path):
    from holostim.gui.roi_overlay import shown_rois
    from holostim.interop import fit_registration, read_rois

    rois = read_rois(_plane(tmp_path / "plane0", [(40, 50)], [0.9]))
    imaging = np.array([[0, 0], [100, 0], [0, 100], [100, 100]], float)
    reg = fit_registration(imaging, imaging * 2 + [10, -5])  # scale 2, shift (10, -5)
    (plain,), (moved,) = shown_rois(rois), shown_rois(rois, reg)
    np.testing.assert_allclose(moved.outline, plain.outline * 2 + [10, -5], atol=1e-9)
    assert (moved.x, moved.y) == pytest.approx((90, 95)) and moved.target_id == 1
    assert moved.contains(90, 95) and moved.contains(90 + 2 * RADIUS - 1, 95)
    assert not moved.contains(90 + 2 * RADIUS + 2, 95) and not plain.contains(90, 95)
