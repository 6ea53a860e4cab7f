"""``holostim library show``: a small library built here, one set opened, and what the window drew read back.

The library is built for real (plan checked against the session, computed on an in-process Dask
cluster, stored in Zarr); the window is then checked on what it drew: the frame it shows is the stored
frame, the predicted light is bright under every target circle and dark away from them, and the
circles are painted where the manifest puts the targets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PyQt6.QtCore import QPointF
from PyQt6.QtGui import QColor, QImage

from holostim.calibration import Calibration
from holostim.cli.main import main
from holostim.library.build import build_library, plan_library
from holostim.library.spec import parse_spec
from holostim.library.store import read_set
from holostim.library.view import view_set

N = 256
CELLS = [(70, 64), (190, 80), (88, 186), (176, 170), (128, 44), (60, 128), (200, 140)]
ROOT = Path(__file__).resolve().parents[2]


def _config(folder: Path):
    from holostim.config import load_config, parse_config

    d = load_config(ROOT / "config" / "simulation.yaml").to_dict()
    d["slm"]["shape"] = [N, N]
    d["simulation"]["shape"] = [N, N]
    d["engine"] = {**d["engine"], "backend": "numpy"}
    d["calibration"]["file"] = None
    d["log"]["directory"] = str(folder / "logs")
    d["targets"] = []
    return parse_config(yaml.safe_dump(d), file="<library view test>", base_dir=folder)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """A 4-set library of 5-cell ensembles on a 256² simulated SLM (camera px = SLM px)."""
    from distributed import Client, LocalCluster

    folder = tmp_path_factory.mktemp("libview")
    (folder / "cells.csv").write_text("x_camera_px,y_camera_px,weight,group,id\n" + "".join(
        f"{x},{y},1,0,{i + 1}\n" for i, (x, y) in enumerate(CELLS)))
    spec = parse_spec(yaml.safe_dump({
        "version": 1, "name": "view-test", "targets_file": "cells.csv",
        "sets": {"random": {"count": 4, "k": 5, "seed": 2}}, "power_mw_per_spot": 1.5,
        "compute": {"method": "wgs", "iterations": 20, "seed": 0}, "chunk_sets": 2}), base_dir=folder)
    cal = Calibration(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (N, N), (N, N))
    plan = plan_library(spec, _config(folder), cal)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            Client(cl) as client:
        build_library(plan, folder / "lib.zarr", client=client)
    return folder / "lib.zarr"


def _pixel(widget, viewbox, x: float, y: float, img: QImage) -> QColor:
    """The colour the grabbed ``img`` of ``widget`` has at data point (x, y) of ``viewbox``."""
    scene = viewbox.mapViewToScene(QPointF(x, y))
    p = widget.mapFromScene(scene)
    return img.pixelColor(p.x(), p.y())


def test_show_draws_the_stored_frame_and_the_light_under_each_target(qtbot, library, artifacts):
    from PyQt6.QtWidgets import QApplication

    from holostim.gui.app import apply_style
    from holostim.gui.library_view import WINDOW_SIZE, LibraryView

    apply_style(QApplication.instance())  # as `holostim library show` styles it
    view = view_set(library, "r1")
    win = LibraryView(view)
    qtbot.addWidget(win)
    win.resize(*WINDOW_SIZE)
    with qtbot.waitExposed(win):
        win.show()
    stored, entry, _ = read_set(library, "r1")
    np.testing.assert_array_equal(win.mask.data, stored)  # the frame exactly as the SLM shows it
    assert win.mask.caption.text().startswith("set r1: SLM frame 256×256")
    assert win.marker_positions() == [tuple(map(float, xy)) for xy in entry["slm_px"]]
    assert len(entry["slm_px"]) == 5

    # The light: each target's pixel holds a bright spot of the predicted intensity, the rest is dark.
    inten = view.intensity
    assert inten.sum() == pytest.approx(1.0)
    spots = [inten[int(round(y)), int(round(x))] for x, y in entry["slm_px"]]
    assert min(spots) > 200 * np.median(inten)
    assert sum(spots) > 0.3  # most of the light reaches the five targets (efficiency, pixel sampled)

    # What was painted: the focal view is bright at a target and dark in a corner far from every cell,
    # and the circle's outline is the marker colour.
    qtbot.waitUntil(lambda: win.focal.graphics.isVisible())
    img = win.focal.graphics.grab().toImage()
    x0, y0 = entry["slm_px"][0]
    lit = _pixel(win.focal.graphics, win.focal.viewbox, x0, y0, img)
    dark = [_pixel(win.focal.graphics, win.focal.viewbox, 12 + dx, 236 + dy, img).lightness()
            for dx in range(0, 12, 3) for dy in range(0, 12, 3)]
    assert lit.lightness() > 150 and np.median(dark) < 40, (lit.name(), dark)
    scene = win.focal.viewbox.mapViewToScene(QPointF(x0, y0))
    c = win.focal.graphics.mapFromScene(scene)
    ring = [img.pixelColor(c.x() + dx, c.y() + dy) for dx in range(-9, 10) for dy in range(-9, 10)
            if 5.5 <= np.hypot(dx, dy) <= 8.5]
    assert any(q.blue() > 200 and q.green() > 170 and q.red() < 150 for q in ring)  # cyan outline

    # the side panel: the manifest's metrics and targets
    text = win.info.toPlainText()
    assert "set       r1  (2 of 4)" in text and f"efficiency      {entry['efficiency']:.4f}" in text
    assert "power     1.5 mW per spot" in text and text.count("\n") > 12

    # another set from the chooser
    win.chooser.setCurrentText("r3")
    other, _, _ = read_set(library, "r3")
    np.testing.assert_array_equal(win.mask.data, other)
    assert "set       r3  (4 of 4)" in win.info.toPlainText() and win.windowTitle().endswith("r3")

    win.chooser.setCurrentText("r1")
    path = artifacts / "screenshot-library.png"
    assert win.grab().save(str(path))
    shot = QImage(str(path))
    colours = {shot.pixel(x, y) for x in range(0, shot.width(), 5) for y in range(0, shot.height(), 5)}
    assert len(colours) > 200


def test_an_unknown_set_is_one_line_naming_the_closest_ids(library, capsys):
    assert main(["library", "show", str(library), "r01"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "has no set 'r01'" in err and "close: r1, r0;" in err and "4 sets" in err


def test_show_without_a_display_is_one_line(library):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.run([sys.executable, "-m", "holostim", "library", "show", str(library), "r0"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no display" in proc.stderr


def test_the_show_command_opens_the_set_and_returns_when_the_window_closes(qtbot, library):
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from holostim.gui.library_view import LibraryView

    seen = []

    def close_it():
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, LibraryView) and w.isVisible()]
        seen.extend((w.view.set_id, w.windowTitle()) for w in wins)
        for w in wins:
            w.close()  # closing the window ends the command (and leaves the application running)

    QTimer.singleShot(300, close_it)
    assert main(["library", "show", str(library), "r2"]) == 0
    assert seen == [("r2", "holostim library view-test: r2")]
