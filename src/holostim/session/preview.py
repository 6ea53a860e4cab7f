"""What the light will look like: the focal-plane intensity an SLM phase gives through the optics core.

The engine's own far field assumes an ideal SLM; this preview runs the configured illumination (a
Gaussian of ``optics.beam_waist_um`` or a plane wave) through a pixelated SLM with its fill factor and
8-bit quantisation, then the Fourier lens, so the GUI shows what the sample will get.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from holostim.config import SessionConfig
from holostim.session.errors import SessionError

__all__ = ["Preview"]


class Preview:
    """Predicted focal-plane intensities for one session's optics (the illumination is built once)."""

    def __init__(self, config: SessionConfig):
        self.config = config
        self._illumination: Any = None

    def intensity(self, phase: Any, shape: tuple[int, int]) -> np.ndarray:
        """Focal-plane intensity (fraction of the power per pixel, float64 ``shape``) of an SLM phase.

        The zero order sits at ``(N//2, N//2)``, as in the engine's coordinates.
        """
        from holostim import optics

        cfg = self.config
        phase = np.asarray(phase, dtype=np.float64)
        if phase.shape != shape:
            raise SessionError(f"phase has shape {phase.shape}, the SLM is {shape}")
        if self._illumination is None:
            if cfg.optics.beam_waist_um:
                src = optics.gaussian_beam(shape, cfg.slm.pitch_um, cfg.slm.wavelength_um,
                                           cfg.optics.beam_waist_um)
            else:
                src = optics.plane_wave(shape, cfg.slm.pitch_um, cfg.slm.wavelength_um)
            self._illumination = src
        field_slm = optics.slm(self._illumination, phase, pitch=cfg.slm.pitch_um,
                               fill_factor=cfg.slm.fill_factor, levels=256)
        out = np.asarray(optics.intensity(optics.fourier_lens(field_slm, cfg.optics.focal_length_um)),
                         dtype=np.float64)
        total = out.sum()
        return out / total if total > 0 else out
