"""The update rules of the methods, written once, and every implementation of them against each other."""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from holostim.holography.methods import (
    GS_STEP,
    KIM_STEP,
    WGS_STEP,
    MethodError,
    check_method,
    fourier_projection,
    fourier_step_mode,
    kim_phase,
    wgs_spot_update,
)


def _one_spot(a, mean_a, w, gamma, sign):
    """Run the rule on one spot; returns its (weight, step exponent, sign) afterwards."""
    w_arr, step = np.array([w], float), np.array([[gamma], [sign]], float)
    wgs_spot_update(np.array([a], float), mean_a, w_arr, step, 0)
    return float(w_arr[0]), float(step[0, 0]), float(step[1, 0])


def test_wgs_rule_pushes_dim_spots_up_and_bright_ones_down():
    # mean amplitude 1: a spot at 0.5 gets the correction 2, one at 2 the correction 1/2, one at 1 none
    assert _one_spot(0.5, 1.0, 1.0, 1.0, 0.0) == (2.0, 1.0, 1.0)
    assert _one_spot(2.0, 1.0, 1.0, 1.0, 0.0) == (0.5, 1.0, -1.0)
    assert _one_spot(1.0, 1.0, 3.0, 1.0, 1.0) == (3.0, 1.0, 0.0)
    # a dark spot's correction is bounded by 1e3 (its weight cannot blow up)
    assert _one_spot(0.0, 1.0, 1.0, 1.0, 0.0) == (1000.0, 1.0, 1.0)


def test_wgs_step_shrinks_on_a_sign_change_and_grows_back_to_one():
    # the last correction went down (sign -1), this one goes up: step 0.5 -> 0.4, weight * 2 ** 0.4
    w, gamma, sign = _one_spot(0.5, 1.0, 1.0, 0.5, -1.0)
    assert (gamma, sign) == (0.4, 1.0)
    assert w == pytest.approx(2**0.4, rel=1e-15)
    # same direction again: the step doubles, but never beyond 1
    assert _one_spot(0.5, 1.0, 1.0, 0.4, 1.0)[1] == 0.8
    assert _one_spot(0.5, 1.0, 1.0, 0.8, 1.0)[1] == 1.0


def _random_rule_inputs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 3, n)
    a[:2] = (0.0, 1e-6)  # dark (the 1e3 bound), nearly dark
    mean_a = float(a.mean())
    a[2] = mean_a  # exactly at the mean: no correction
    w = rng.uniform(0.5, 2, n)
    step = np.array([rng.choice([1.0, 0.8, 0.64, 0.3], n), rng.choice([-1.0, 0.0, 1.0], n)])
    return a, mean_a, w, step


def _spot_by_spot(rule, a, mean_a, w, step):
    w, step = w.copy(), step.copy()
    for i in range(a.size):
        rule(a, mean_a, w, step, i)
    return w, step


def test_wgs_rule_is_the_same_on_one_spot_and_on_the_vector():
    a, mean_a, w, step = _random_rule_inputs()
    w_ref, step_ref = _spot_by_spot(wgs_spot_update, a, mean_a, w, step)
    wgs_spot_update(a, mean_a, w, step, ...)
    np.testing.assert_allclose(w, w_ref, rtol=4e-16, atol=0)  # (numpy's vector pow: 1 ulp)
    np.testing.assert_array_equal(step, step_ref)
    assert step_ref[1, 2] == 0 and np.ptp(step_ref[0]) > 0  # the cases the rule distinguishes all occur


def test_numba_compiles_the_rule_as_written():
    import numba

    from holostim.holography.kernels import numba as numba_kernels

    assert isinstance(numba_kernels._wgs_spot_update, numba.core.registry.CPUDispatcher)
    assert numba_kernels._wgs_spot_update.py_func is wgs_spot_update
    a, mean_a, w, step = _random_rule_inputs()
    w_ref, step_ref = _spot_by_spot(wgs_spot_update, a, mean_a, w, step)
    w_nb, step_nb = _spot_by_spot(numba_kernels._wgs_spot_update, a, mean_a, w, step)
    np.testing.assert_allclose(w_nb, w_ref, rtol=1e-14, atol=0)
    np.testing.assert_array_equal(step_nb, step_ref)


_C_HARNESS = """
#include <math.h>
#include <stdbool.h>
typedef double R;
static R max(R x, R y) { return x > y ? x : y; }
static R min(R x, R y) { return x < y ? x : y; }
void rule(int n, const R *a_in, R mean_a, R *w_io, R *gamma_io, R *sign_io) {
    for (int i = 0; i < n; i++) {
        R a = a_in[i], w = w_io[i], gamma = gamma_io[i], sign = sign_io[i];
        %s
        w_io[i] = w; gamma_io[i] = gamma; sign_io[i] = sign;
    }
}
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_cuda_source_of_the_rule_equals_the_python_rule(tmp_path):
    # The CUDA kernel's weight update (the marked lines of loop.cu); compiled here as C (double precision) on
    # the CPU, it must give what the Python rule gives, so the GPU path is checked even without a GPU.
    from holostim.backend.cuda_source import marked_block, read_source
    from holostim.holography.kernels.cupy import LOOP_SOURCE

    src = tmp_path / "rule.c"
    src.write_text(_C_HARNESS % marked_block(read_source(LOOP_SOURCE), "wgs_spot_update"))
    lib = tmp_path / "rule.so"
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(lib), str(src), "-lm"], check=True)
    rule = ctypes.CDLL(str(lib)).rule
    dbl = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
    rule.argtypes = [ctypes.c_int, dbl, ctypes.c_double, dbl, dbl, dbl]
    a, mean_a, w, step = _random_rule_inputs(seed=3)
    w_ref, step_ref = _spot_by_spot(wgs_spot_update, a, mean_a, w, step)
    gamma, sign = step[0].copy(), step[1].copy()
    rule(a.size, a, mean_a, w, gamma, sign)
    np.testing.assert_allclose(w, w_ref, rtol=1e-14, atol=0)
    np.testing.assert_array_equal(np.array([gamma, sign]), step_ref)


def test_kim_phase_follows_then_freezes():
    assert kim_phase(1j, -1.0, True) == 1j
    assert kim_phase(1j, -1.0, False) == -1.0


def test_fourier_projection_imposes_the_target_amplitude():
    rng = np.random.default_rng(4)
    g = rng.standard_normal(12) + 1j * rng.standard_normal(12)
    g[5] = 0  # no phase to keep: phase 0, never amplitude 0
    t = rng.random(12) + 0.1
    step = np.array([np.ones(12), np.zeros(12)])
    w, phase = np.ones(12), np.ones(12, complex)
    out = fourier_projection(g, t, w, step, phase, GS_STEP, True)
    np.testing.assert_allclose(np.abs(out), t)
    np.testing.assert_allclose(np.angle(np.delete(out, 5)), np.angle(np.delete(g, 5)), atol=1e-12)
    assert out[5] == t[5]
    # WGS: the amplitudes become w * t with the weights at mean 1, the phase is still the far field's
    out = fourier_projection(g, t, w, step, phase, WGS_STEP, True)
    assert w.mean() == pytest.approx(1) and np.ptp(w) > 0
    np.testing.assert_allclose(np.abs(out), w * t)
    # Kim: while fresh the phase is stored, afterwards it is the stored one whatever the far field does
    fourier_projection(g, t, w, step, phase, KIM_STEP, True)
    out = fourier_projection(g * 1j, t, w, step, phase, KIM_STEP, False)
    np.testing.assert_allclose(out / np.abs(out), phase)
    np.testing.assert_allclose(np.angle(np.delete(phase, 5)), np.angle(np.delete(g, 5)), atol=1e-12)


def test_methods_and_their_words():
    assert [fourier_step_mode(m) for m in ("gs", "raar", "wgs", "wgs-kim")] == [GS_STEP, GS_STEP, WGS_STEP,
                                                                                KIM_STEP]
    assert check_method("raar", beta=1.0) == "raar"
    with pytest.raises(MethodError, match="unknown method 'gsw'.*gs, wgs, wgs-kim, raar"):
        check_method("gsw")
    with pytest.raises(MethodError, match="beta 0"):
        check_method("raar", beta=0)
    with pytest.raises(MethodError, match="fix_after -1"):
        check_method("wgs-kim", fix_after=-1)
