"""The core and the GPU benchmark import and run with PyQt6, pyqtgraph and PyOpenGL absent.

The GPU machine has no Qt (GPU.md), and a headless analysis machine need not have it either. Each check
runs in a fresh interpreter whose import system refuses those packages (a meta-path finder that raises
ImportError for them, first in ``sys.meta_path``), so a Qt import anywhere on the way fails the test,
even on this machine where Qt is installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

NO_QT = """
import importlib.abc, sys
class _NoQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PyQt6", "pyqtgraph", "OpenGL"):
            raise ImportError(f"{name} is blocked: no Qt on this machine")
        return None
sys.meta_path.insert(0, _NoQt())
"""


def _run(code: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HOLOSTIM_FFTW_EFFORT": "FFTW_ESTIMATE"}
    return subprocess.run([sys.executable, "-c", NO_QT + code], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


def test_the_blocker_really_blocks_qt():
    proc = _run("import pyqtgraph\n")
    assert proc.returncode != 0 and "pyqtgraph is blocked" in proc.stderr


def test_engine_backend_session_and_kernels_import_without_qt():
    proc = _run(
        "import holostim.holography, holostim.backend, holostim.session\n"
        "import holostim.session.build, holostim.holography.cuda_graph, holostim.holography.kernels.cupy\n"
        "import holostim.hardware.slm, holostim.hardware.camera, holostim.config\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('PyQt6', 'pyqtgraph', 'OpenGL'))\n"
        "print('LEAKED', leaked)\n"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LEAKED []" in proc.stdout


@pytest.mark.slow  # (a session opens and calibrates: 10-20 s on the loaded 2-core machine)
def test_gpu_benchmark_runs_end_to_end_without_qt(tmp_path):
    out = tmp_path / "gpu.json"
    proc = _run(
        "import runpy\n"
        f"sys.argv = ['gpu.py', '--backend', 'numpy', '--sizes', '128', '--precisions', 'single',"
        f" '--methods', 'wgs', 'raar', '--iterations', '3', '--repeats', '1', '--spots', '5',"
        f" '--session-spots', '3', '--json', {str(out)!r}]\n"
        "try:\n"
        "    runpy.run_path('benchmarks/gpu.py', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    print('EXIT', e.code)\n",
        timeout=400,
    )
    assert "EXIT 0" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["errors"] == [] and doc["backend"] == "numpy"
    assert [r["method"] for r in doc["engine"]] == ["wgs", "raar"]
    for row in doc["engine"]:
        assert row["size"] == 128 and row["iter_ms"]["best"] > 0 and row["call_ms"]["best"] > 0
        assert "graph_call_ms" not in row  # no CUDA graphs off the GPU
    (sess,) = doc["session"]
    assert sess["click_ms"]["best"] >= sess["compute_ms"]["best"] > 0 and sess["gray_ms"]["best"] > 0
    assert "engine (numpy" in proc.stdout and "click->mask" in proc.stdout
