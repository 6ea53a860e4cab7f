"""The calibration dialog's Depth choice: chosen in its dialog, measured off the GUI thread, installed."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QInputDialog

from holostim.gui.calibration_dialog import KINDS, CalibrationDialog, ask_kind


def _answer(label: str | None) -> None:
    """When the choice dialog is up, pick ``label`` and press OK (``None``: Cancel)."""

    def act():
        dlg = QApplication.activeModalWidget()
        if not isinstance(dlg, QInputDialog):
            QTimer.singleShot(20, act)
            return
        if label is None:
            dlg.reject()
        else:
            dlg.setTextValue(label)
            dlg.accept()

    QTimer.singleShot(20, act)


def test_the_user_chooses_depth_or_cancels(qtbot):
    assert list(KINDS) == ["affine", "depth"]
    _answer(KINDS["depth"])
    assert ask_kind() == "depth"
    _answer(None)
    assert ask_kind() is None


@pytest.mark.slow  # a whole depth calibration, five focus positions (~10 s idle)
def test_a_depth_calibration_runs_in_the_dialog(qtbot, sim_config):
    from holostim.session import Session

    cfg = sim_config(slm_shape=(128, 128), camera_shape=(128, 128), optics={"magnification": 200.0},
                     simulation={"n_neurons": 0, "sample": "slide"}, daq=None)
    with Session.open(cfg) as s:
        dlg = CalibrationDialog(s, 5, kind="depth")
        assert dlg.windowTitle() == "Depth calibration" and dlg.runner.grid == 3  # its own 3×3 grid
        got, steps = [], []
        dlg.measured.connect(got.append)
        dlg.failed.connect(lambda why: pytest.fail(why))
        dlg.runner.progress.connect(lambda d, t, w: steps.append(w))
        dlg.start()
        qtbot.waitUntil(lambda: bool(got), timeout=120_000)
        (cal,) = got
        assert s.calibration is cal and cal.depth_map is not None
        assert cal.depth_map.scale == pytest.approx(s.camera.true_defocus[0], rel=0.02)
        assert steps[-1] == "fit" and any("best nominal depth" in w for w in steps)
    with pytest.raises(ValueError, match="calibration kind 'power'"):
        CalibrationDialog(None, 3, kind="power")
