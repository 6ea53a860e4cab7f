"""A screenshot of the main window in simulation mode with targets placed (goes into the README).

The picture is taken only once the state it shows is on screen: the six spots on the SLM and in the
previews, the refused seventh target, and a camera frame taken long enough after the swap for the
stimulated neurons to have brightened. Each of these is waited for, not slept for.
"""

from __future__ import annotations

import numpy as np
from gui_helpers import pick_neurons
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage

BRIGHTEN_S = 1.5
"""Calcium transients of the stimulated neurons have risen this long after the swap."""


def test_screenshot_of_main_window_with_targets(qtbot, make_window, sim_config, artifacts):
    win = make_window(sim_config(slm_shape=(512, 512), camera_shape=(512, 512),
                                 engine={"backend": "numpy", "iterations": 20}), size=(1600, 950))
    s = win.session
    win.targets_panel.snap_check.setChecked(True)
    vp = win.camera_view.graphics.viewport()
    for x, y in pick_neurons(s, 6, min_dist=40):
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=win.camera_view.viewport_pos(x, y))
    qtbot.waitUntil(lambda: win.sending.last_result is not None and len(win.sending.last_result.targets) == 6
                    and win.sending.worker.idle, timeout=30_000)
    r = win.sending.last_result
    zx, zy = s.calibration.zero_order_camera()
    # Snapping would move this click onto whichever soma lies near the zero order in the current frame
    # (activity and noise change which one), sometimes out of the exclusion: place it where clicked.
    win.targets_panel.snap_check.setChecked(False)
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=win.camera_view.viewport_pos(zx + 2, zy + 2))
    assert "zero-order" in win.last_message
    win.store.set_selection([2])

    # Wait for a camera frame exposed BRIGHTEN_S after the swap, then for the view to have drawn it.
    assert r.t_swapped is not None
    bright: list[int] = []

    def camera_has_bright_frame() -> bool:
        f = s.camera.latest()
        if not bright and f is not None and f.timestamp >= r.t_swapped + BRIGHTEN_S:
            bright.append(f.counter)
        return bool(bright)

    qtbot.waitUntil(camera_has_bright_frame, timeout=30_000)
    drawn: list[int] = []
    win.camera_view.frameShown.connect(drawn.append)
    qtbot.waitUntil(lambda: bool(drawn) and drawn[-1] >= bright[0], timeout=30_000)

    # What the picture must show is on screen now.
    assert len(win.camera_view.marker_positions()) == 7 and win.store.reasons[6] is not None
    np.testing.assert_array_equal(win.mask_preview.data, r.frame)
    assert win.focal_preview.data is not None
    assert win.status_panel.text("spots") == "6"
    assert win.sending.last_result is r and "zero-order" in win.last_message
    path = artifacts / "gui_main_window.png"
    assert win.grab().save(str(path))
    img = QImage(str(path))
    assert (img.width(), img.height()) == (win.width(), win.height())
    # Not blank: the camera image, markers and previews make many distinct colours.
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 500
