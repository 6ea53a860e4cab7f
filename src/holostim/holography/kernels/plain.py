"""The loop kernels in plain array code: the definitions the fused kernels are tested against.

Written with whole-array ``xp`` calls (numpy, CuPy or any array-API namespace), allocating freely; the
engine runs them with ``fast=False``.
"""

from __future__ import annotations

import numpy as np

from holostim.holography.methods import fourier_projection

__all__ = ["PlainKernels"]


class PlainKernels:
    """Reference implementations with plain array calls."""

    name = "plain"

    def __init__(self, xp):
        self.xp = xp

    def _project(self, z, amp):
        xp = self.xp
        m = xp.abs(z)
        safe = xp.where(m > 0, m, xp.ones_like(m))
        a = amp.astype(m.dtype)
        return xp.where(m > 0, z * (a / safe), a + xp.zeros_like(z))

    def project_slm(self, buf, amp) -> None:
        """SLM-plane projection in place: keep the phase, impose ``amp`` (phase 0 where ``buf == 0``)."""
        buf[...] = self._project(buf, amp)

    def project_slm_into(self, src, dst, amp) -> None:
        """``dst = amp * src / |src|`` (the projection of ``src``, written elsewhere)."""
        dst[...] = self._project(src, amp)

    def raar_start(self, x, buf, amp) -> None:
        """``buf = R_M x = 2 P_M x - x``: what the first RAAR Fourier projection acts on."""
        buf[...] = 2 * self._project(x, amp) - x

    def raar_update(self, x, buf, amp, beta: float) -> None:
        """One RAAR update after the Fourier projection, fused with the next reflection.

        On entry ``buf = P_F(R_M x)``. Sets ``x <- beta x + beta buf + (1 - 2 beta) P_M x`` and then
        ``buf <- 2 P_M x - x`` for the next iteration.
        """
        b = float(beta)
        xn = b * x + b * buf + (1 - 2 * b) * self._project(x, amp)
        x[...] = xn
        buf[...] = 2 * self._project(xn, amp) - xn

    def extract_phase(self, buf, out, center: tuple[int, int]) -> None:
        """Phase of the centred ``out.shape`` window of ``buf`` (FFT layout), wrapped to [0, 2π).

        ``out[y, x] = angle(buf[(y - cy) % Ny, (x - cx) % Nx])``: undoes the ``ifftshift`` of the
        engine's layout and crops away any computational padding in one step.
        """
        xp = self.xp
        ny, nx = out.shape
        big_y, big_x = buf.shape
        cy, cx = center
        iy = (xp.arange(ny) - cy) % big_y
        ix = (xp.arange(nx) - cx) % big_x
        win = xp.take(xp.take(buf, iy, axis=0), ix, axis=1)
        atan2 = xp.atan2 if hasattr(xp, "atan2") else xp.arctan2
        ph = atan2(xp.imag(win), xp.real(win))
        ph = ph.astype(out.dtype)
        two_pi = xp.asarray(2 * np.pi, dtype=out.dtype)
        ph = xp.where(ph < 0, ph + two_pi, ph)
        out[...] = xp.where(ph >= two_pi, xp.zeros_like(ph), ph)

    def dark_excess(self, buf, scale, eps: float):
        """``sum(max(0, |buf|² scale - eps)) / eps`` over the whole array (a 0-d array or float).

        The full-grid part of the tolerance error: every pixel brighter than the absolute tolerance
        ``eps`` (after scaling by ``scale``) adds its excess in units of ``eps``.
        """
        xp = self.xp
        inten = (xp.real(buf) ** 2 + xp.imag(buf) ** 2).astype(xp.float64) * scale
        return xp.sum(xp.maximum(inten - eps, 0.0)) / eps

    def fourier_step(self, flat, idx, t, w, step, phase, g, a, mode: int, fresh: bool) -> None:
        """The Fourier-plane projection on the lit pixels (GS/RAAR, WGS, Kim's WGS), in place.

        ``flat`` is the far field (flat view of the buffer); on return it is zero except on the lit pixels
        ``idx``, which hold :func:`~holostim.holography.methods.fourier_projection` of their values with
        target amplitudes ``t``, weights ``w``, step state ``step`` (2, n) and Kim's phasors ``phase``
        (all updated in place). ``g`` and ``a`` are scratch vectors of the fused versions (unused here).
        """
        vals = fourier_projection(self.xp.take(flat, idx), t, w, step, phase, mode, fresh)
        flat[...] = 0
        flat[idx] = vals
