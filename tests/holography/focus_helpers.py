"""Find where an SLM field focuses, with the optics core as the independent model (Fourier lens + ASM).

The SLM is conjugate to the objective pupil: the sample field in the focal plane is the Fourier lens of
the SLM field (focal length ``f n / M`` in a medium of index ``n``, so that its pitch is the sample pitch
``λ f / (N dx M)``), and any other plane is that field propagated ``z`` through the medium: exactly
(``asm``, the high-NA truth) or paraxially (``fresnel-tf``). The SLM field is zero-padded 2x so the sample
plane is sampled at half a Fourier pixel.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize_scalar

from holostim.holography.defocus import DefocusModel
from holostim.optics import Field, SamplingWarning, fourier_lens, propagate

PAD = 2


def sample_field(u_slm: np.ndarray, model: DefocusModel) -> Field:
    """The focal-plane field in the sample (pitch half a Fourier pixel), pupil-limited to the NA."""
    ny, nx = u_slm.shape
    y = (np.arange(ny) - ny // 2) * model.pitch_um
    x = (np.arange(nx) - nx // 2) * model.pitch_um
    pupil = (y[:, None] ** 2 + x[None, :] ** 2) <= model.pupil_radius_um**2
    big = np.zeros((PAD * ny, PAD * nx), dtype=np.complex128)
    oy, ox = PAD * ny // 2 - ny // 2, PAD * nx // 2 - nx // 2
    big[oy:oy + ny, ox:ox + nx] = u_slm * pupil
    f_eff = model.focal_length_um * model.medium_index / model.magnification
    return fourier_lens(Field(big, model.pitch_um, model.wavelength_um, n=model.medium_index), f_eff)


def focus_of(field: Field, xy: tuple[float, float], z_guess: float, shape: tuple[int, int], method: str,
             span: float = 3.0, win: int = 3) -> tuple[float, float, float]:
    """``(x, y, z)`` of the focus nearest Fourier pixel ``xy`` and depth ``z_guess``: the depth of the
    brightest peak in a small window, then the lateral intensity centroid there (Fourier pixels)."""
    ny, nx = shape
    cy = PAD * ny // 2 + PAD * (xy[1] - ny // 2)
    cx = PAD * nx // 2 + PAD * (xy[0] - nx // 2)
    iy0, ix0 = int(round(cy)), int(round(cx))
    sl = (slice(iy0 - win, iy0 + win + 1), slice(ix0 - win, ix0 + win + 1))

    def plane(z: float) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplingWarning)
            return np.abs(propagate(field, z, method, check=False).u[sl]) ** 2

    zs = z_guess + np.linspace(-span, span, 13)
    peaks = [plane(z).max() for z in zs]
    z0 = zs[int(np.argmax(peaks))]
    step = zs[1] - zs[0]
    best = minimize_scalar(lambda z: -plane(z).max(), bounds=(z0 - step, z0 + step), method="bounded",
                           options={"xatol": 1e-3})
    img = plane(best.x)
    img = np.maximum(img - 0.2 * img.max(), 0)
    yy, xx = np.mgrid[sl]
    fy, fx = (yy * img).sum() / img.sum(), (xx * img).sum() / img.sum()
    return (nx // 2 + (fx - PAD * nx // 2) / PAD, ny // 2 + (fy - PAD * ny // 2) / PAD, float(best.x))
