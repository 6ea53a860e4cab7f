"""The CUDA kernels' own arithmetic, run on the CPU (``cuda_host``), against the plain array code.

The launchers of :mod:`holostim.holography.kernels.cupy` and
:func:`holostim.hardware.slm.gray.phase_to_gray_cupy` run unchanged, with numpy arrays and the ``.cu``
files compiled as host C++ in place of CuPy's module: the argument lists are checked against the kernel
signatures, and the results against :class:`~holostim.holography.kernels.plain.PlainKernels` and the gray
reference with the tolerances the GPU tests use. This is where the WGS weights' renormalisation on the
GPU (kept at mean 1 inside ``holostim_fourier_spots``, as on the CPU) is checked without a GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
from cuda_host import HostModule, host_compiler
from test_kernels import MODES, _check_kernels_match, _inputs, _run_steps

from holostim.backend import get_backend
from holostim.hardware.slm import gray
from holostim.holography.kernels import PlainKernels
from holostim.holography.kernels import cupy as cupy_kernels

pytestmark = pytest.mark.skipif(host_compiler() is None, reason="needs a C++ compiler (c++ or g++)")


@pytest.fixture(scope="module")
def loop_module(tmp_path_factory):
    return HostModule(cupy_kernels.LOOP_SOURCE, tmp_path_factory.mktemp("loop"))


@pytest.fixture
def host_kernels(loop_module, monkeypatch):
    """CupyKernels (the real launcher) on numpy arrays, its module compiled for the host."""
    monkeypatch.setattr(cupy_kernels, "_MODULE", loop_module)
    k = object.__new__(cupy_kernels.CupyKernels)
    PlainKernels.__init__(k, np)
    loop_module.launched.clear()
    return k


@pytest.mark.parametrize("precision", ["single", "double"])
def test_cuda_loop_kernels_match_plain(host_kernels, loop_module, precision):
    _check_kernels_match(get_backend("numpy", precision), host_kernels)
    names = {name for name, *_ in loop_module.launched}
    assert names == {"holostim_project_slm", "holostim_raar_start", "holostim_raar_update",
                     "holostim_dark_excess"}
    tag = "f" if precision == "single" else "d"
    assert {t for _, t, *_ in loop_module.launched} == {tag}


@pytest.mark.parametrize("precision", ["single", "double"])
@pytest.mark.parametrize("method", ["gs", "wgs", "wgs-kim"])
def test_cuda_fourier_step_matches_plain_and_keeps_weights_at_mean_one(host_kernels, method, precision):
    be = get_backend("numpy", precision)
    bufs, idx, t = _inputs(be)
    tol = 2e-5 if precision == "single" else 1e-12
    ref = _run_steps(PlainKernels(np), np, be, bufs, idx, t, MODES[method])
    # _run_steps normalises the weights it reports: read the raw ones to see the kernel's own normalisation
    state_w = []
    real_step = host_kernels.fourier_step

    def spy(flat, idx, t, w, *rest):
        real_step(flat, idx, t, w, *rest)
        state_w.append(w.copy())

    host_kernels.fourier_step = spy
    got = _run_steps(host_kernels, np, be, bufs, idx, t, MODES[method])
    for (f1, w1, s1), (f2, w2, s2) in zip(got, ref, strict=True):
        np.testing.assert_allclose(f1, f2, atol=tol, rtol=tol)
        np.testing.assert_allclose(w1, w2, rtol=tol)
        np.testing.assert_allclose(s1, s2, rtol=tol)
    for w in state_w:
        assert w.mean() == pytest.approx(1.0, rel=10 * tol)
    if method != "gs":
        assert np.ptp(ref[-1][1]) > 0.1  # the weights really moved


def test_cuda_fourier_step_refuses_mixed_precision(host_kernels):
    be = get_backend("numpy", "single")
    bufs, idx, t = _inputs(be)
    with pytest.raises(TypeError, match="t not C-contiguous of the weights' precision"):
        _run_steps(host_kernels, np, be, bufs, idx, t.astype(np.float64), MODES["wgs"])


@pytest.fixture(scope="module")
def gray_module(tmp_path_factory):
    return HostModule(gray.GRAY_SOURCE, tmp_path_factory.mktemp("gray"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_phase_to_gray_matches_the_reference(gray_module, monkeypatch, dtype):
    import sys
    import types

    monkeypatch.setattr(gray, "_GRAY_MODULE", gray_module)
    # phase_to_gray_cupy imports cupy for its allocations: numpy stands in for it here
    fake = types.SimpleNamespace(float32=np.float32, float64=np.float64, uint8=np.uint8, uint16=np.uint16,
                                 uint64=np.uint64,
                                 ascontiguousarray=np.ascontiguousarray, empty=np.empty, zeros=np.zeros)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    rng = np.random.default_rng(5)
    phase = rng.uniform(-7, 20, (33, 17)).astype(dtype)
    corr = rng.uniform(0, 2 * np.pi, phase.shape).astype(dtype)
    table = rng.integers(0, 256, 257).astype(np.uint8)
    scale, period = 256 / (2 * np.pi), 256.0

    class _Host(np.ndarray):  # numpy arrays with CuPy's .get()
        def get(self):
            return np.asarray(self)

    monkeypatch.setattr(fake, "zeros", lambda *a, **k: np.zeros(*a, **k).view(_Host))
    frame, bad = gray.phase_to_gray_cupy(phase, None, table, scale, period)
    assert bad == 0
    np.testing.assert_array_equal(frame, gray.phase_to_gray_reference(phase, scale, period, table))
    frame, bad = gray.phase_to_gray_cupy(phase, corr, table, scale, period)
    ref = gray.phase_to_gray_reference((phase + corr).astype(dtype), scale, period, table)
    np.testing.assert_array_equal(frame, ref)
    phase[2, 3], phase[5, 5] = np.nan, np.inf
    frame, bad = gray.phase_to_gray_cupy(phase, None, table, scale, period)
    assert bad == 2 and frame[2, 3] == table[0] and frame[5, 5] == table[0]
