"""numba's compiled kernels go to the user's cache folder, never into the installed package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import holostim

pytest.importorskip("numba")

PACKAGE = Path(holostim.__file__).parent

COMPILE = """
import sys
if sys.argv[1] == "numba first":
    import numba  # noqa: F401  (numba reads NUMBA_CACHE_DIR before holostim could set it)
import numpy as np
from holostim.holography.kernels import numba as kernels
buf = np.ones((4, 4), np.complex64)
kernels._project_slm(buf, np.ones((1, 1), np.float32))
"""


def _package_cache_files() -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in PACKAGE.rglob("*") if p.suffix in (".nbi", ".nbc")}


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(PACKAGE.parent), **extra)
    return env


@pytest.mark.slow
@pytest.mark.parametrize("order", ["holostim first", "numba first"])
def test_compiling_writes_to_the_user_cache_not_the_package(tmp_path, order):
    before = _package_cache_files()
    subprocess.run([sys.executable, "-c", COMPILE, order], env=_env(tmp_path), check=True, timeout=600)
    written = sorted(p.name for p in (tmp_path / "cache" / "holostim" / "numba").rglob("*.nbi"))
    assert any("_project_slm" in name for name in written), written
    assert _package_cache_files() == before  # nothing new or rewritten beside the sources


def test_a_cache_folder_the_user_chose_is_kept(tmp_path):
    show = "import holostim, os; print(os.environ['NUMBA_CACHE_DIR'])"
    mine = str(tmp_path / "mine")
    out = subprocess.run([sys.executable, "-c", show], env=_env(tmp_path, NUMBA_CACHE_DIR=mine),
                         capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    assert out == mine
    out = subprocess.run([sys.executable, "-c", show], env=_env(tmp_path),
                         capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    assert out == str(tmp_path / "cache" / "holostim" / "numba")
