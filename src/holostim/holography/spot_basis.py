"""The spots of a target as separable SLM-plane waves: what the direct-sum engine multiplies with.

Spot ``j`` at Fourier pixel ``(X_j, Y_j)`` and depth ``z_j`` is, on the SLM, the wave
``exp(i (2π k_j x / Nx + a_j x²)) · exp(i (2π l_j y / Ny + a_j y²))`` (centred pixel coordinates ``x``,
``y``; ``k_j = X_j − Nx//2``, ``l_j = Y_j − Ny//2``; ``a_j`` the paraxial defocus per pixel²). Because
it factorises in ``x`` and ``y``, the values of an SLM field ``u`` at all ``N`` spots (its far field
at each spot's own focus) are the diagonal of ``Bᴴ u conj(A)``, and the field of all spots with complex
amplitudes ``c`` is ``B diag(c) Aᵀ``: two rank-``N`` GEMMs, with ``A`` (Nx × N) and ``B`` (Ny × N).

The high-NA defocus is not separable (it depends on ``sqrt(1 − ρ²…)``): spots are then grouped by
depth, the columns hold the tilts only, and each depth ``z ≠ 0`` has its own full phasor
``D = exp(i φ_z)`` that multiplies the field (``conj(D)`` on the way to the spots, ``D`` on the way
back). The phasors are cached while they fit :data:`PHASOR_CACHE_BYTES`, and rebuilt per use beyond it
(correct, slower: a target with hundreds of distinct depths is better computed with the paraxial model).

Orthonormal scaling: the values are divided by ``sqrt(Nx Ny)``, so for a unit-power SLM field
``|g_j|²`` is the share of the power in spot ``j``'s focal pixel, as on the FFT engine's grid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from holostim.backend import Backend
from holostim.holography.defocus import DefocusModel
from holostim.holography.targets import SpotTarget, TargetError

__all__ = ["PHASOR_CACHE_BYTES", "SpotBasis"]

PHASOR_CACHE_BYTES = 1 << 30
"""Most memory the per-depth high-NA phasors of one target may hold before they are rebuilt per use."""


class SpotBasis:
    """``A``, ``B`` and the depth groups of one target on one backend (module docstring)."""

    def __init__(self, target: SpotTarget, backend: Backend, defocus: DefocusModel | None):
        ny, nx = target.shape
        self.shape = (ny, nx)
        self.backend = be = backend
        xp = be.xp
        n = len(target)
        if target.is_3d and defocus is None:
            raise TargetError("a 3-D target (spots with z != 0) needs a defocus model: give the engine a "
                              "DefocusModel (a session builds it from slm and optics, and needs "
                              "optics.objective_na below optics.medium_index for it)")
        self.defocus = defocus
        z = np.asarray(target.z, dtype=np.float64)
        sep = defocus is None or defocus.separable
        a = defocus.paraxial_coefficient(z) if (sep and defocus is not None) else np.zeros(n)
        xc = np.arange(nx) - nx // 2
        yc = np.arange(ny) - ny // 2
        kx = target.xy[:, 0] - nx // 2
        ky = target.xy[:, 1] - ny // 2
        # built in float64 and cast once (as every optics kernel): the phase 2π k x / N + a x² is large
        ax = np.exp(1j * (2 * math.pi * np.outer(xc, kx) / nx + np.outer(xc**2, a)))  # (nx, N)
        by = np.exp(1j * (2 * math.pi * np.outer(yc, ky) / ny + np.outer(yc**2, a)))  # (ny, N)
        cd = be.complex_dtype
        self._scale = 1.0 / math.sqrt(nx * ny)
        # per depth group: (spot indices, Bᴴ (n_p, ny), conj(A)ᵀ (n_p, nx), B (ny, n_p), Aᵀ (n_p, nx), z)
        self.groups: list[tuple[Any, Any, Any, Any, Any, float]] = []
        depths = [0.0] if sep else sorted(set(z.tolist()))
        for zp in depths:
            sel = np.arange(n) if sep else np.flatnonzero(z == zp)
            bsel, asel = by[:, sel], ax[:, sel]
            self.groups.append((
                be.asarray(sel),
                be.asarray(np.ascontiguousarray(bsel.conj().T), dtype=cd),
                be.asarray(np.ascontiguousarray(asel.conj().T), dtype=cd),
                be.asarray(np.ascontiguousarray(bsel), dtype=cd),
                be.asarray(np.ascontiguousarray(asel.T), dtype=cd),
                float(zp),
            ))
        self.n = n
        itemsize = np.dtype(cd).itemsize
        self._cache_phasors = len(depths) * nx * ny * itemsize <= PHASOR_CACHE_BYTES
        self._phasors: dict[float, Any] = {}
        self._xp = xp

    @property
    def separable(self) -> bool:
        """One group, no full phasors: the pure two-GEMM case."""
        return len(self.groups) == 1 and self.groups[0][5] == 0.0

    def _phasor(self, z: float):
        """``exp(i φ_z)`` on the SLM grid (complex, backend dtype), cached when they fit."""
        d = self._phasors.get(z)
        if d is None:
            d = self.backend.asarray(np.exp(1j * self.defocus.phase(z, self.shape)),
                                     dtype=self.backend.complex_dtype)
            if self._cache_phasors:
                self._phasors[z] = d
        return d

    def values(self, u):
        """The orthonormal complex far field of ``u`` (ny, nx) at every spot's focus, shape (N,)."""
        xp = self._xp
        if self.separable:
            _, bh, ac, _, _, _ = self.groups[0]
            return xp.sum((bh @ u) * ac, axis=1) * self._scale
        g = xp.empty(self.n, dtype=self.backend.complex_dtype)
        for sel, bh, ac, _, _, z in self.groups:
            src = u if z == 0.0 else u * xp.conj(self._phasor(z))
            g[sel] = xp.sum((bh @ src) * ac, axis=1) * self._scale
        return g

    def field(self, c, out=None):
        """The SLM field ``Σ_j c_j · wave_j`` (ny, nx) of spot amplitudes ``c`` (N,), into ``out``."""
        xp = self._xp
        if self.separable:
            _, _, _, b, at, _ = self.groups[0]
            res = b @ (c[:, None] * at)
            if out is None:
                return res
            out[...] = res
            return out
        total = out if out is not None else xp.empty(self.shape, dtype=self.backend.complex_dtype)
        total.fill(0)
        for sel, _, _, b, at, z in self.groups:
            part = b @ (c[sel][:, None] * at)
            total += part if z == 0.0 else part * self._phasor(z)
        return total
