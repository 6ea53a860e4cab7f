from __future__ import annotations

import numpy as np
import pytest

from holostim.backend import BackendError, get_backend, gpu_available, to_numpy


def test_auto_picks_numpy_without_gpu():
    be = get_backend("auto", "single")
    assert be.name == ("cupy" if gpu_available() else "numpy")
    assert be.complex_dtype == np.complex64 and be.real_dtype == np.float32
    assert get_backend("numpy", "double").complex_dtype == np.complex128


@pytest.mark.parametrize("precision,tol", [("single", 1e-4), ("double", 1e-12)])
def test_fft_plan_matches_numpy_fft(precision, tol):
    be = get_backend("numpy", precision)
    plan = be.fft_plan((64, 48))
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 48)) + 1j * rng.standard_normal((64, 48))).astype(be.complex_dtype)
    plan.buffer[...] = x
    got = to_numpy(plan.forward()).copy()
    ref = np.fft.fft2(x.astype(np.complex128))
    assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) < tol
    back = to_numpy(plan.inverse()) / plan.size
    assert np.max(np.abs(back - x)) < tol * 10
    assert be.fft_plan((64, 48)) is plan


def test_bad_words_name_the_value():
    with pytest.raises(BackendError, match="'gpu'.*auto, numpy, cupy"):
        get_backend("gpu")
    with pytest.raises(BackendError, match="'half'.*single, double"):
        get_backend("numpy", "half")


@pytest.mark.skipif(gpu_available(), reason="only meaningful where no GPU is usable")
def test_cupy_without_gpu_says_so():
    with pytest.raises(BackendError, match="no CUDA GPU is usable"):
        get_backend("cupy")
