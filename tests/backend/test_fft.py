from __future__ import annotations

import numpy as np
import pytest

from holostim.backend import BackendError, PlainFFT, get_backend, to_numpy
from holostim.backend import fft as fft_module


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


def test_plain_fft_is_unnormalised_like_the_plans():
    be = get_backend("numpy", "double")
    plain = PlainFFT(be, (8, 6))
    assert plain.size == 48
    x = np.random.default_rng(1).standard_normal((8, 6)) + 0j
    plain.buffer[...] = x
    np.testing.assert_allclose(plain.forward(), np.fft.fft2(x), atol=1e-12)
    np.testing.assert_allclose(plain.inverse(), 48 * x, atol=1e-12)  # no 1/N on the way back


def test_private_plans_have_their_own_buffers():
    be = get_backend("numpy", "single")
    a, b = be.new_fft_plan((16, 16)), be.new_fft_plan((16, 16))
    assert a.buffer is not b.buffer and a.buffer is not be.fft_plan((16, 16)).buffer


def test_wisdom_is_saved_and_a_bad_effort_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    get_backend("numpy", "single").new_fft_plan((12, 10))
    assert (tmp_path / "holostim" / "fftw-wisdom.json").stat().st_size > 0
    assert list((tmp_path / "holostim").iterdir()) == [tmp_path / "holostim" / "fftw-wisdom.json"]
    monkeypatch.setenv("HOLOSTIM_FFTW_EFFORT", "quick")
    with pytest.raises(BackendError, match="FFTW_QUICK.*FFTW_ESTIMATE"):
        fft_module._fftw_effort()
