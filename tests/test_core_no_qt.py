"""The core never needs Qt: it imports and runs a simulation session with PyQt6/pyqtgraph/OpenGL blocked.

Run in a fresh interpreter, because this test process may already have imported Qt for other tests.
A meta-path finder placed first refuses the GUI packages, exactly as on a headless analysis machine
where they are not installed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = ("PyQt6", "PyQt5", "PySide6", "pyqtgraph", "OpenGL", "pytestqt")

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked: the core must not import GUI packages")
            return None

    sys.meta_path.insert(0, Block())
    """
)

SCRIPT = BLOCKER + textwrap.dedent(
    """
    import importlib, pkgutil, sys
    import holostim
    import holostim.holography, holostim.optics

    core = ["holostim.backend", "holostim.errors", "holostim.calibration", "holostim.config",
            "holostim.eventlog", "holostim.session", "holostim.cli", "holostim.hardware",
            "holostim.hardware.slm", "holostim.hardware.camera", "holostim.hardware.simulated"]
    for pkg in (holostim.optics, holostim.holography):
        core += [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + ".")]
    for name in core:
        importlib.import_module(name)

    # The blocker works: the GUI side really cannot be imported here.
    for gui in ("PyQt6.QtCore", "holostim.hardware.slm.window"):
        try:
            importlib.import_module(gui)
        except ImportError:
            pass
        else:
            raise SystemExit(f"{gui} imported although Qt is blocked")

    # And the core runs: a simulation session opens, predicts and closes without Qt.
    from holostim.session import Session
    with Session.open(sys.argv[1]) as s:
        import numpy as np
        image = s.predicted_intensity(np.zeros(s.slm.shape, np.float32))
        assert abs(image.sum() - 1) < 1e-6
        s.slm.show_phase(np.zeros(s.slm.shape, np.float32))
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("PyQt6", "pyqtgraph", "OpenGL"))
    assert not leaked, leaked
    print("ok", len(core))
    """
)


def test_core_imports_and_runs_with_qt_blocked(tmp_path):
    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    data["slm"]["shape"] = [64, 64]
    data["simulation"].update(shape=[64, 64], n_neurons=3, neuron_radius_px=3)
    data["calibration"] = {"file": None, "auto_in_simulation": False}
    data["log"]["directory"] = "logs"
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "s.yaml")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok")
    assert int(proc.stdout.split()[1]) >= 15  # the optics and holography modules were all found


def test_blocker_really_blocks():
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKER + "import pyqtgraph"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0 and "blocked" in proc.stderr
