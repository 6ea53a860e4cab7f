"""The napari dock and reader, in a real napari viewer (napari's own ``make_napari_viewer`` fixture).

The session is the shrunk simulation rig of tests/test_session.py (calibration measured once, copied);
points are edited with the Points layer's own API — what napari's add/select/delete tools call.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from test_session import calibrated, in_field, write_session  # noqa: F401

napari = pytest.importorskip("napari")

from holostim.napari.dock import CAMERA, OK_RGBA, POINTS, REFUSED_RGBA, HolostimDock  # noqa: E402

MANIFEST = Path(__file__).resolve().parents[2] / "src" / "holostim" / "napari" / "napari.yaml"


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


@pytest.fixture
def rig(calibrated, tmp_path):  # noqa: F811
    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    return write_session(tmp_path)


@pytest.fixture
def dock(make_napari_viewer, rig, qtbot):
    viewer = make_napari_viewer()
    d = HolostimDock(viewer)
    viewer.window.add_dock_widget(d, name="holostim")
    d.connect_session(rig)
    yield d
    d.disconnect_session()


def _plane(folder, centres, probs):
    folder.mkdir(parents=True)
    stat = np.empty(len(centres), dtype=object)
    stat[:] = [{"xpix": np.array([x - 1, x, x + 1, x], np.int32),
                "ypix": np.array([y, y, y, y + 1], np.int32), "lam": np.ones(4, np.float32), "npix": 4}
               for x, y in centres]
    np.save(folder / "stat.npy", stat)
    np.save(folder / "iscell.npy", np.array([[p >= 0.5, p] for p in probs]))
    np.save(folder / "ops.npy", {"Ly": 128, "Lx": 128})
    return folder


def test_camera_and_targets_are_layers_kept_in_sync_both_ways(dock, qtbot):
    s, viewer = dock.session, dock.viewer
    qtbot.waitUntil(lambda: dock._last_counter > 0, timeout=10_000)
    assert viewer.layers[CAMERA].data.shape == s.camera.shape and viewer.layers[CAMERA].data.max() > 0
    points = viewer.layers[POINTS]
    a, b = in_field(s, (30, 30)), in_field(s, (90, 80))
    points.add([[a.y, a.x], [b.y, b.x]])  # napari → session: added
    assert [(t.id, t.x, t.y) for t in s.targets] == [(1, a.x, a.y), (2, b.x, b.y)]
    data = np.array(points.data)
    data[0] += [2.0, -1.0]
    points.data = data  # moved: same id, new place
    assert (s.targets[0].id, s.targets[0].x, s.targets[0].y) == (1, a.x - 1.0, a.y + 2.0)
    zx, zy = s.calibration.zero_order_camera()
    points.add([[zy, zx]])  # refused by the session: drawn red, the reason in the dock
    assert [t.id for t in s.targets] == [1, 2, 3]
    np.testing.assert_allclose(points.face_color, [OK_RGBA, OK_RGBA, REFUSED_RGBA])
    assert "target 3 refused" in dock.status.text() and "zero" in dock.status.text()
    points.selected_data = {1}
    points.remove_selected()  # deleted
    assert [t.id for t in s.targets] == [1, 3]
    # Send shows the accepted targets through the session (gate and log), on a worker thread.
    frames = len(s.slm.frames)
    dock.send_button.click()
    qtbot.waitUntil(lambda: dock.status.text().startswith("sent"), timeout=30_000)
    assert "sent 1 spots" in dock.status.text() and len(s.slm.frames) > frames
    # The session shows only what it accepts, and its targets are then the shown ones: so are the points.
    qtbot.waitUntil(lambda: len(points.data) == 1, timeout=10_000)
    assert [t.id for t in s.targets] == [1] and list(points.features["id"]) == [1]
    # session → napari
    s.targets = [b]
    dock.pull_targets()
    np.testing.assert_allclose(points.data, [[b.y, b.x]])


def test_rois_import_as_labels_and_shapes_and_outlines_become_targets(dock, tmp_path):
    s = dock.session
    centres = [(int(round(t.x)), int(round(t.y))) for t in (in_field(s, (30, 30)), in_field(s, (90, 80)),
                                                            in_field(s, (40, 95)))]
    folder = _plane(tmp_path / "plane0", centres, [0.9, 0.2, 0.7])
    labels, shapes = dock.import_rois(folder / "stat.npy")
    assert labels.data.shape == (128, 128) and sorted(np.unique(labels.data)) == [0, 1, 2, 3]
    x, y = centres[1]
    assert labels.data[y, x] == 2 and labels.data[y + 1, x] == 2  # (row, col): id + 1 on its pixels
    assert len(shapes.data) == 3 and list(shapes.features["roi_id"]) == [0, 1, 2]
    assert dock.targets_from_outlines() == 2  # nothing selected: the analysis's cells
    assert sorted(t.id for t in s.targets) == [1, 3]
    shapes.selected_data = {1}
    assert dock.targets_from_outlines() == 1
    assert sorted(t.id for t in s.targets) == [1, 2, 3]
    t2 = next(t for t in s.targets if t.id == 2)
    assert (t2.x, t2.y) == pytest.approx((x, y + 0.25))  # the footprint's centroid
    assert len(dock.viewer.layers[POINTS].data) == 3


def test_manifest_and_reader_open_roi_files_in_napari(make_napari_viewer, tmp_path, npe2pm):
    import npe2

    manifest = npe2.PluginManifest.from_file(MANIFEST)
    assert manifest.name == "holostim"
    npe2pm.register(manifest)
    folder = _plane(tmp_path / "plane0", [(20, 30), (60, 70)], [0.9, 0.1])
    viewer = make_napari_viewer()
    layers = viewer.open(str(folder / "stat.npy"), plugin="holostim")
    assert [ly.name for ly in layers] == ["plane0 ROIs", "plane0 outlines"]
    assert layers[0].data[30, 20] == 1 and layers[0].data[70, 60] == 2
    from holostim.napari.reader import get_reader

    assert get_reader(str(tmp_path)) is None  # a folder without stat.npy is not ours
    (tmp_path / "other.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip: not a RoiSet
    assert get_reader(str(tmp_path / "other.zip")) is None
