"""The bundled sample recording (assets/sample) replays, and shows what it says it shows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tifffile

from holostim.hardware.camera import open_camera

SAMPLE = Path(__file__).resolve().parents[3] / "assets" / "sample" / "neurons_stim.tif"


def test_sample_recording_replays_and_shows_stimulation():
    assert SAMPLE.stat().st_size < 2_000_000
    with tifffile.TiffFile(SAMPLE) as tif:
        meta = json.loads(tif.pages[0].description)
    with open_camera("replay", path=SAMPLE, fps=meta["fps"]) as cam:
        assert cam.n_frames == 16 and cam.shape == (256, 256) and cam.dtype == np.uint16
        frames = np.array([cam.snap() for _ in range(16)], dtype=float)
    pos = np.round(np.asarray(meta["neuron_positions"])).astype(int)
    soma = np.array([[f[y - 2 : y + 3, x - 2 : x + 3].mean() for x, y in pos] for f in frames])
    on, off = meta["stimulated_frames"]
    before = soma[:on].mean(axis=0)
    during = soma[off - 2 : off + 1].mean(axis=0)
    targets = meta["stimulated_neurons"]
    others = np.setdiff1d(np.arange(len(pos)), targets)
    offset = 100.0  # the simulated camera's dark offset (ADU)
    ratio = (during - offset) / (before - offset)
    assert (ratio[targets] > 2.0).all()  # ΔF/F > 1: brightened strongly
    assert np.median(ratio[others]) < 1.2  # the rest did not
