"""Targets → Import ROIs…: an analysis's cells become the window's targets, ids = ROI id + 1."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtWidgets import QFileDialog


def _plane(folder, centres, iscell):
    folder.mkdir(parents=True)
    stat = np.empty(len(centres), dtype=object)
    stat[:] = [{"ypix": np.array([y, y], np.int32), "xpix": np.array([x, x + 1], np.int32),
                "lam": np.array([1, 1], np.float32), "med": [float(y), float(x)], "npix": 2}
               for x, y in centres]
    np.save(folder / "stat.npy", stat)
    np.save(folder / "iscell.npy", np.asarray(iscell, np.float64))
    np.save(folder / "ops.npy", {"Ly": 256, "Lx": 256})
    return folder


def _answers(monkeypatch, *paths):
    queue = list(paths)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (queue.pop(0), "")))


def test_import_rois_menu_puts_the_cells_in_the_target_store(make_window, sim_config, tmp_path, monkeypatch):
    win = make_window(sim_config())
    win.targets_panel.auto_check.setChecked(False)
    folder = _plane(tmp_path / "plane0", [(100, 80), (60, 150), (30, 30)], [[1, 0.9], [0, 0.2], [1, 0.8]])
    (tmp_path / "reg.yaml").write_text("imaging_to_camera: [[1, 0, 5], [0, 1, -3]]\n")
    action = next(a for a in win.actions() if a.text() == "&Import ROIs…")
    _answers(monkeypatch, str(folder / "stat.npy"), str(tmp_path / "reg.yaml"))
    action.trigger()
    targets = win.store.targets
    assert [t.id for t in targets] == [1, 3]
    assert [(t.x, t.y) for t in targets] == [pytest.approx((105.5, 77.0)), pytest.approx((35.5, 27.0))]
    assert "imported 2 of 3 suite2p ROIs" in win.last_message


def test_a_bad_roi_file_shows_one_line_and_keeps_the_targets(make_window, sim_config, tmp_path, monkeypatch):
    win = make_window(sim_config())
    win.targets_panel.auto_check.setChecked(False)
    win.store.add(50.0, 60.0)
    before = list(win.store.targets)
    folder = _plane(tmp_path / "plane0", [(10, 10)], [[1, 0.9], [1, 0.9]])  # iscell has a row too many
    _answers(monkeypatch, str(folder / "stat.npy"), "")
    win.menus.import_rois_dialog()
    assert win.store.targets == before
    assert "has 2 rows but stat.npy has 1 ROIs" in win.last_message and "\n" not in win.last_message
