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


# --- fused kernels against the plain array code -----------------------------------------------------------


def _kernel_cases(be, shape=(48, 40)):
    rng = np.random.default_rng(7)

    def rnd():
        z = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        z[3, 4] = 0  # the zero-amplitude branch
        return be.asarray(z, dtype=be.complex_dtype)

    amps = [be.asarray(np.full((1, 1), 0.3), dtype=be.real_dtype),
            be.asarray(rng.random(shape), dtype=be.real_dtype)]
    return rnd, amps


def _check_kernels_match(be):
    fast, plain = be.kernels, be.plain_kernels()
    rnd, amps = _kernel_cases(be)
    tol = 1e-5 if be.precision == "single" else 1e-12
    close = lambda a, b: np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=tol, rtol=tol)  # noqa: E731
    for amp in amps:
        z = rnd()
        a, b = z.copy(), z.copy()
        fast.project_slm(a, amp)
        plain.project_slm(b, amp)
        close(a, b)
        d1, d2 = be.xp.empty_like(z), be.xp.empty_like(z)
        fast.project_slm_into(z, d1, amp)
        plain.project_slm_into(z, d2, amp)
        close(d1, d2)
        x1, x2 = z.copy(), z.copy()
        fast.raar_start(x1, d1, amp)
        plain.raar_start(x2, d2, amp)
        close(d1, d2)
        b0 = rnd()
        b1, b2 = b0.copy(), b0.copy()
        fast.raar_update(x1, b1, amp, 0.7)
        plain.raar_update(x2, b2, amp, 0.7)
        close(x1, x2)
        close(b1, b2)
    z = rnd()
    for out_shape, center in (((48, 40), (24, 20)), ((30, 20), (15, 10)), ((31, 21), (15, 10))):
        o1 = be.xp.empty(out_shape, dtype=be.real_dtype)
        o2 = be.xp.empty(out_shape, dtype=be.real_dtype)
        fast.extract_phase(z, o1, center)
        plain.extract_phase(z, o2, center)
        d = np.angle(np.exp(1j * (to_numpy(o1).astype(float) - to_numpy(o2))))
        assert np.abs(d).max() < 1e-5
        assert to_numpy(o1).min() >= 0 and to_numpy(o1).max() < 2 * np.pi
        assert o1.dtype == be.real_dtype
    # extract_phase un-shifts: the centre pixel of the output is buffer pixel (0, 0)
    centre = np.mod(np.angle(to_numpy(z)[0, 0]), 2 * np.pi)
    assert float(to_numpy(o1)[15, 10]) == pytest.approx(centre, abs=1e-5)
    got, ref = float(fast.dark_excess(z, 0.5, 0.3)), float(plain.dark_excess(z, 0.5, 0.3))
    assert got == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("precision", ["single", "double"])
def test_numba_kernels_match_plain(precision):
    be = get_backend("numpy", precision)
    assert be.kernels.name == "numba"
    _check_kernels_match(be)


def test_plain_kernel_projection_is_the_definition():
    be = get_backend("numpy", "double")
    rnd, amps = _kernel_cases(be)
    z = rnd()
    a = z.copy()
    be.plain_kernels().project_slm(a, amps[1])
    m = np.abs(z)
    ref = np.where(m > 0, amps[1] * z / np.where(m > 0, m, 1), amps[1])
    np.testing.assert_allclose(a, ref, atol=1e-14)


def test_private_plans_have_their_own_buffers():
    be = get_backend("numpy", "single")
    a, b = be.new_fft_plan((16, 16)), be.new_fft_plan((16, 16))
    assert a.buffer is not b.buffer and a.buffer is not be.fft_plan((16, 16)).buffer


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["single", "double"])
def test_cupy_kernels_match_plain(precision):
    be = get_backend("cupy", precision)
    assert be.kernels.name == "cupy"
    _check_kernels_match(be)
