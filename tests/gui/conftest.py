"""Fixtures for GUI tests: small simulation sessions built from config/simulation.yaml, one window each.

Every test in this folder is marked ``gui`` (it needs an X server: Xvfb in CI), so ``-m "not gui"`` runs
the rest of the suite on a machine without one.

The calibration of each (SLM shape, camera shape) is measured once per test run and reused, so each
test opens its session in well under a second. Window settings go to a private INI file, never to the
user's QSettings.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from PyQt6.QtCore import QSettings

from holostim.config import load_config, parse_config

GUI_TESTS = Path(__file__).resolve().parent
ROOT = GUI_TESTS.parents[1]
SIM = ROOT / "config" / "simulation.yaml"


def pytest_collection_modifyitems(config, items):
    # This hook sees the items of the whole run, not only this folder's: mark only those under it.
    for item in items:
        if GUI_TESTS in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.gui)


def _merge(d: dict, over: dict) -> dict:
    out = dict(d)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@pytest.fixture(scope="session")
def calibration_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("calibrations")


@pytest.fixture
def sim_config(tmp_path, calibration_dir):
    """``sim_config(**overrides)`` → SessionConfig: config/simulation.yaml made small and private."""

    def make(slm_shape=(256, 256), camera_shape=(256, 256), **overrides):
        d = load_config(SIM).to_dict()
        key = f"cal-{slm_shape[0]}x{slm_shape[1]}-{camera_shape[0]}x{camera_shape[1]}"
        over = {
            "slm": {"shape": list(slm_shape)},
            "simulation": {"shape": list(camera_shape)},
            "engine": {"backend": "numpy", "iterations": 10},
            "log": {"directory": str(tmp_path / "logs")},
            "calibration": {"file": str(calibration_dir / f"{key}.yaml")},
            "targets": [],
        }
        d = _merge(_merge(d, over), overrides)
        return parse_config(yaml.safe_dump(d), file="<gui test>", base_dir=tmp_path)

    return make


@pytest.fixture
def make_window(qtbot, tmp_path):
    """``make_window(config_or_path)`` → an open, shown MainWindow driving a new Session."""
    from holostim.gui.app import apply_style
    from holostim.gui.main_window import MainWindow
    from holostim.session import Session

    windows = []

    def make(config, size=(1500, 900)):
        from PyQt6.QtWidgets import QApplication

        apply_style(QApplication.instance())
        session = Session.open(config)
        settings = QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)
        win = MainWindow(session, settings=settings)
        win.resize(*size)
        with qtbot.waitExposed(win):
            win.show()
        windows.append(win)
        qtbot.waitUntil(lambda: win.camera_view.frame is not None, timeout=10_000)
        return win

    yield make
    for w in windows:
        if w.session is not None:
            w.close()
