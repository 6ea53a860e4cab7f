"""Example 3: diffraction-efficiency falloff across the field (the SLM pixel envelope).

A spot steered away from the zero order is dimmer: each SLM pixel is a small aperture (width
``F · pitch``, dead space between pixels) whose diffraction envelope multiplies the far field, and
the steering grating gets fewer pixels per period.  For a blazed grating reaching Fourier pixel
offset ``(k, l)`` on an ``N``-pixel SLM the first-order efficiency is, per axis,
``F² sinc²(F k / N)`` — so a rig must give far-out spots more target weight to make them equal.

Here each steering position is simulated with the optics core (supersampled pixels with the fill
factor's dead space, 8-bit phase), the power in the steered spot is measured, compared with the
analytic envelope, and the compensation map ``w ∝ 1/η`` (normalised to 1 on axis) is saved as
``efficiency_map.npz`` along with the figure.

Run: ``python examples/efficiency_falloff.py [--out DIR]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _rig  # noqa: E402
from _figure import Panel, save_figure  # noqa: E402

from holostim.optics import fourier_lens, plane_wave, power, slm  # noqa: E402

SLM_N = 64  # pixels per side for this map (the envelope depends only on k/N)
SUPERSAMPLE = 4  # sub-samples per pixel: resolves the pixel aperture and its dead space


def efficiency(kx: int, ky: int, fill: float = _rig.FILL, levels: int = _rig.LEVELS) -> float:
    """Simulated fraction of the incident power in the first order steered to offset (kx, ky)."""
    n, s = SLM_N, SUPERSAMPLE
    src = plane_wave((n * s, n * s), _rig.PITCH / s, _rig.WAVELENGTH, dtype=np.complex64)
    jj, ii = np.indices((n, n))
    phase = 2 * np.pi * (kx * ii + ky * jj) / n  # blazed grating: kx, ky cycles across the SLM
    far = fourier_lens(slm(src, phase, pitch=_rig.PITCH, fill_factor=fill, levels=levels, supersample=s), 1e4)
    c = n * s // 2
    spot = np.abs(far.u[c + ky, c + kx]) ** 2 * far.spacing[0] * far.spacing[1]
    return float(spot / float(power(src)))


def analytic(kx: np.ndarray, ky: np.ndarray, fill: float = _rig.FILL) -> np.ndarray:
    """``F² sinc²(F kx/N) · F² sinc²(F ky/N)``: the pixel envelope for a fill factor F."""
    return fill**4 * np.sinc(fill * kx / SLM_N) ** 2 * np.sinc(fill * ky / SLM_N) ** 2


def main(out: Path = Path("example-output"), *, step: int = 4) -> dict:
    ks = np.arange(-SLM_N // 2 + step // 2, SLM_N // 2, step)
    eta = np.array([[efficiency(int(kx), int(ky)) for kx in ks] for ky in ks])
    kk, ll = np.meshgrid(ks, ks)
    model = analytic(kk, ll)
    eta0 = efficiency(0, 0)
    rel = eta / eta0
    weights = 1.0 / rel  # target weights that equalise spot powers
    max_dev = float(np.max(np.abs(eta / model - 1)))
    edge = efficiency(int(ks.max()), 0) / eta0  # on the x axis at the edge of the map
    # positions in the sample for the shared rig (relay inverts: offset (k, l) -> -(k, l) · scale)
    um_per_k = _rig.FOCAL_UM_PER_PX * _rig.SLM_SHAPE[1] / SLM_N
    pos_um = -ks * um_per_k
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "efficiency_map.npz", k=ks, l=ks, efficiency=eta, relative=rel, weights=weights,
             sample_um=pos_um, fill_factor=_rig.FILL, slm_pixels=SLM_N)
    rng = (float(ks.min()), float(ks.max()))
    panels = [
        Panel("simulated first-order efficiency η", eta, x_label="k (Fourier px)", y_label="l (Fourier px)",
              x_range=rng, y_range=rng),
        Panel("analytic F⁴ sinc²(Fk/N) sinc²(Fl/N)", model, x_label="k (Fourier px)",
              y_label="l (Fourier px)", x_range=rng, y_range=rng, vmin=float(eta.min()),
              vmax=float(eta.max())),
        Panel("compensation weight 1/η (on axis = 1)", weights, x_label="k (Fourier px)",
              y_label="l (Fourier px)", x_range=rng, y_range=rng),
    ]
    path = save_figure(
        panels, out / "efficiency_falloff.png",
        title=f"Diffraction efficiency across the field: {SLM_N}-pixel SLM, fill factor {_rig.FILL}, "
              f"{_rig.LEVELS} levels, {SUPERSAMPLE}x supersampled pixels",
        footer=f"edge of the field (k = {ks.max()}, l = 0): {edge:.3f} of the on-axis efficiency; "
               f"corner {rel[-1, -1]:.3f}; simulation vs analytic envelope: max deviation {max_dev:.2%}",
    )
    return {"figure": path, "map": out / "efficiency_map.npz", "max_deviation": max_dev,
            "edge_relative": float(edge), "eta_on_axis": eta0}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("example-output"))
    res = main(ap.parse_args().out)
    print(f"wrote {res['figure']} and {res['map']}; on-axis η {res['eta_on_axis']:.4f}, edge "
          f"{res['edge_relative']:.3f} of it; max deviation from the analytic envelope "
          f"{res['max_deviation']:.2%}")
