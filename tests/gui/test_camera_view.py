"""Camera view and target store: clicks, drags, deletes, rubber band, snapping, refused targets."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import drag
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from holostim.gui.camera_view import CameraView
from holostim.gui.centroid import snap_to_centroid
from holostim.gui.target_store import TargetIndexError, TargetStore
from holostim.session import Target as T


def blob_frame(shape=(200, 240), centres=((60.3, 50.7), (150.0, 120.2)), sigma=3.0):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    img = np.full(shape, 100.0)
    for cx, cy in centres:
        img += 1000 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
    return img.astype(np.uint16)


@pytest.fixture
def view(qtbot):
    store = TargetStore(check=lambda x, y: "in zero order" if np.hypot(x - 120, y - 100) < 10 else None,
                        make_target=T)
    v = CameraView(store)
    v.resize(700, 600)
    qtbot.addWidget(v)
    with qtbot.waitExposed(v):
        v.show()
    v.set_frame(blob_frame())
    QApplication.processEvents()
    return v


def test_click_adds_target_at_image_coordinates(view, qtbot):
    vp = view.graphics.viewport()
    for x, y in [(30, 40), (200.0, 150.0), (75, 20)]:
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=view.viewport_pos(x, y))
    got = [(t.x, t.y) for t in view.store.targets]
    assert len(got) == 3
    # A widget pixel is < 1 image pixel here, so the click lands within 0.5 px of the intended spot.
    np.testing.assert_allclose(got, [(30, 40), (200, 150), (75, 20)], atol=0.5)
    np.testing.assert_allclose(view.marker_positions(), got)


def test_right_click_and_delete_remove(view, qtbot):
    for x, y in [(30, 40), (200, 150), (75, 20)]:
        view.store.add(x, y)
    vp = view.graphics.viewport()
    qtbot.mouseClick(vp, Qt.MouseButton.RightButton, pos=view.viewport_pos(200, 150))
    assert [(t.x, t.y) for t in view.store.targets] == [(30, 40), (75, 20)]
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=view.viewport_pos(30, 40))
    assert view.store.selection == [0]
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert [(t.x, t.y) for t in view.store.targets] == [(75, 20)]


def test_drag_moves_target(view):
    view.store.add(30, 40)
    vp = view.graphics.viewport()
    drag(vp, view.viewport_pos(30, 40), view.viewport_pos(90, 110))
    (t,) = view.store.targets
    assert abs(t.x - 90) < 1 and abs(t.y - 110) < 1


def test_drag_moves_all_selected_targets_in_one_change(view):
    for x, y in [(30, 40), (50, 60), (200, 150)]:
        view.store.add(x, y)
    view.store.set_selection([0, 1])
    changes = []
    view.store.changed.connect(lambda: changes.append(1))
    drag(view.graphics.viewport(), view.viewport_pos(50, 60), view.viewport_pos(70, 50))
    got = [(round(t.x), round(t.y)) for t in view.store.targets]
    assert got == [(50, 30), (70, 50), (200, 150)]
    assert len(changes) == 1


def test_rubber_band_selects_enclosed_targets(view):
    for x, y in [(30, 40), (50, 60), (200, 150)]:
        view.store.add(x, y)
    vp = view.graphics.viewport()
    drag(vp, view.viewport_pos(20, 30), view.viewport_pos(70, 80), mods=Qt.KeyboardModifier.ShiftModifier)
    assert view.store.selection == [0, 1]


def test_refused_target_is_flagged_and_drawn_as_cross(view):
    seen = []
    view.store.refused.connect(lambda x, y, r: seen.append(r))
    view.store.add(122, 101)
    assert view.store.reasons == ["in zero order"]
    assert view.store.accepted() == []
    assert seen == ["in zero order"]
    assert view._markers.data[0]["symbol"] == "x"


def test_snap_to_centroid_lands_on_blob_centre(view, qtbot):
    assert snap_to_centroid(blob_frame(), 63, 48) == pytest.approx((60.3, 50.7), abs=0.2)
    # Clicking on flat background leaves the click where it is.
    assert snap_to_centroid(blob_frame(), 10, 180) == (10, 180)
    view.snap_enabled = True
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=view.viewport_pos(152, 118))
    (t,) = view.store.targets
    assert (t.x, t.y) == pytest.approx((150.0, 120.2), abs=0.2)


def test_bad_index_names_the_range(view):
    view.store.add(1, 2)
    with pytest.raises(TargetIndexError, match="valid indices 0..0"):
        view.store.move(3, 0, 0)
