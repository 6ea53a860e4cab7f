"""The house's import rules, checked on the real import graph.

- ``pyproject.toml``'s import-linter contracts: the floors (nothing imports upward) and Qt/OpenGL only in
  the GUI and the SLM window module.
- Each optional SDK is imported only inside its own leaf module. import-linter can protect only packages
  that already appear in the graph, so this rule is checked here with grimp (the graph import-linter
  itself uses) for every SDK a lab may add, including those no module imports yet.
- And at run time: a simulation session opens and shows a frame without Qt ever being imported, which is
  what a headless analysis machine without PyQt6 needs.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import grimp
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

# SDK (top-level import name) -> the only holostim modules (or packages) that may import it directly.
SDK_LEAVES = {
    "pymmcore_plus": ["holostim.hardware.camera.micromanager"],
    "pymmcore": ["holostim.hardware.camera.micromanager"],
    "pypylon": ["holostim.hardware.camera.pylon"],
    "nidaqmx": ["holostim.hardware.daq.nidaqmx"],
    "serial": ["holostim.hardware.daq.serial"],
    "jax": ["holostim.design", "holostim.optics.jax"],
    "optax": ["holostim.design"],
    "dask": ["holostim.library"],
    "distributed": ["holostim.library"],
    "zarr": ["holostim.library"],
    "pynwb": ["holostim.interop"],
    "h5py": ["holostim.interop", "holostim.holography.io"],
    "roifile": ["holostim.interop"],
    "napari": ["holostim.napari"],
}
QT = ("PyQt6", "pyqtgraph", "OpenGL")


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("holostim", include_external_packages=True)


def _within(module: str, allowed: list[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


def test_import_linter_contracts_are_kept():
    from importlinter.cli import lint_imports

    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, "import contracts broken: run `lint-imports` in the repository root for the details"


def test_qt_contract_is_not_vacuous(graph):
    """The GUI really imports Qt, so the Qt contract checks real edges (not an empty set)."""
    importers = graph.find_modules_that_directly_import("PyQt6")
    assert any(m.startswith("holostim.gui.") for m in importers)


@pytest.mark.parametrize("sdk", sorted(SDK_LEAVES))
def test_optional_sdk_is_imported_only_in_its_leaf(graph, sdk):
    if sdk not in graph.modules:
        return  # nobody imports it (yet): nothing can be in the wrong place
    bad = sorted(m for m in graph.find_modules_that_directly_import(sdk) if not _within(m, SDK_LEAVES[sdk]))
    assert not bad, f"{sdk} imported outside {SDK_LEAVES[sdk]}: {bad}"


RUN_WITHOUT_QT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from holostim.session import Session

    with Session.open(sys.argv[1]) as s:
        image = s.predicted_intensity(np.zeros(s.slm.shape, np.float32))
        assert abs(image.sum() - 1) < 1e-6
        s.slm.show_phase(np.zeros(s.slm.shape, np.float32))
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in %r)
    print("leaked", leaked)
    """
) % (QT,)


def test_a_simulation_session_runs_without_importing_qt(tmp_path):
    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    data["slm"]["shape"] = [64, 64]
    data["simulation"].update(shape=[64, 64], n_neurons=3, neuron_radius_px=3)
    data["calibration"] = {"file": None, "auto_in_simulation": False}
    data["log"]["directory"] = "logs"
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    proc = subprocess.run([sys.executable, "-c", RUN_WITHOUT_QT, str(tmp_path / "s.yaml")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("leaked []"), proc.stdout
