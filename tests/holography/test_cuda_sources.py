"""The CUDA kernels compile (nvcc, no GPU needed) and the Python launchers only launch what they define.

The kernels are ``.cu`` files shipped with the package (``holography/kernels/cuda/loop.cu``,
``hardware/slm/cuda/gray.cu``); CuPy compiles the same text with NVRTC on a GPU machine. Here ``nvcc``
compiles each for sm_90 (both precisions: every kernel is instantiated for float and double in the file)
with every warning an error, and the binary must hold each kernel in both precisions.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from holostim.backend.cuda_source import (
    CudaModule,
    blocks_for,
    defines,
    kernel_names,
    marked_block,
    read_source,
)
from holostim.hardware.slm import gray
from holostim.holography import methods
from holostim.holography.kernels import cupy as cupy_kernels

SOURCES = {"loop.cu": cupy_kernels.LOOP_SOURCE, "gray.cu": gray.GRAY_SOURCE}
LAUNCHERS = {"loop.cu": Path(cupy_kernels.__file__), "gray.cu": Path(gray.__file__)}


def _nvcc() -> str | None:
    env = os.environ.get("HOLOSTIM_NVCC")
    if env:
        return env
    for cand in (shutil.which("nvcc"), "/usr/local/bin/nvcc", "/usr/local/cuda/bin/nvcc"):
        if cand and Path(cand).exists():
            return cand
    return None


def _launched_names(path: Path) -> set[str]:
    """Kernel names a launcher passes as the first argument of ``launch(...)``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
            "launch",
        ):
            first = node.args[0] if node.args else None
            assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                f"{path.name}:{node.lineno}: launch with a kernel name that is not a string literal"
            )
            names.add(first.value)
    return names


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_sources_ship_next_to_their_launchers(name):
    src = SOURCES[name]
    assert src.is_file() and src.suffix == ".cu"
    assert src.parent.name == "cuda" and src.parent.parent == LAUNCHERS[name].parent


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_launchers_launch_exactly_the_kernels_the_source_defines(name):
    defined = kernel_names(read_source(SOURCES[name]))
    launched = _launched_names(LAUNCHERS[name])
    assert defined, f"no kernels found in {name}"
    assert launched == defined, f"launched, not defined: {launched - defined}; unused: {defined - launched}"


def test_module_refuses_a_kernel_the_source_does_not_define():
    mod = CudaModule(cupy_kernels.LOOP_SOURCE)
    with pytest.raises(KeyError, match="defines no kernel 'holostim_project_slim'"):
        mod.kernel("holostim_project_slim", "float32")  # (raised before CuPy is ever imported)


def test_constants_of_the_source_are_the_python_ones():
    d = defines(read_source(cupy_kernels.LOOP_SOURCE))
    assert float(d["HOLOSTIM_TINY"]) == methods.TINY
    assert int(d["HOLOSTIM_WGS_STEP"]) == methods.WGS_STEP
    assert int(d["HOLOSTIM_KIM_STEP"]) == methods.KIM_STEP
    for k in ("HOLOSTIM_SPOT_THREADS", "HOLOSTIM_REDUCE_THREADS"):  # block sums need powers of 2
        n = int(d[k])
        assert n & (n - 1) == 0 and 32 <= n <= 1024


def test_marked_block_and_grid_helpers():
    rule = marked_block(read_source(cupy_kernels.LOOP_SOURCE), "wgs_spot_update")
    assert "pow(f, gamma)" in rule and "BEGIN" not in rule and "END" not in rule
    with pytest.raises(KeyError, match="no '// BEGIN nothing'"):
        marked_block("int x;", "nothing")
    assert blocks_for(0) == 1 and blocks_for(256) == 1 and blocks_for(257) == 2
    assert blocks_for(10**12) == 1 << 16  # grid-stride loops cover the rest


@pytest.mark.skipif(_nvcc() is None, reason="nvcc (the CUDA toolkit) is not installed here")
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_nvcc_compiles_every_kernel_in_both_precisions(name, tmp_path):
    src = SOURCES[name]
    cubin = tmp_path / (src.stem + ".cubin")
    cmd = [_nvcc(), "-arch=sm_90", "-cubin", "-std=c++14", "-Werror", "all-warnings", "-o", str(cubin),
           str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, f"nvcc failed on {name}:\n{proc.stderr}"
    assert "warning" not in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr
    data = cubin.read_bytes()
    for kernel in kernel_names(read_source(src)):
        for code, type_name in (("f", "float"), ("d", "double")):
            mangled = f"_Z{len(kernel)}{kernel}I{code}E".encode()
            assert re.search(re.escape(mangled), data), f"{kernel}<{type_name}> is not in the {name} binary"
