"""Regenerate ``neurons_stim.tif``: a short recording of the simulated rig for replay demos and tests.

16 frames, 256 × 256, 12-bit in uint16, 10 frames per second, zlib-compressed multi-page TIFF. Three
neurons are stimulated from frame 4 on (the light is switched off again at frame 12), so the replay
shows them brighten and relax. Run from the repository root::

    python assets/sample/make_sample.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tifffile

from holostim.hardware.camera import SimulatedCamera
from holostim.hardware.slm import SimulatedSLM
from holostim.sim import LightPath, Scene, SimulatedClock

OUT = Path(__file__).resolve().parent / "neurons_stim.tif"
N = 256
TARGETS = [2, 9, 17]


def main() -> Path:
    """Record the sample and write it next to this script; returns its path."""
    slm = SimulatedSLM((N, N), 9.2, 1.04, tau_ms=5.0, two_pi_gray=256)
    clock = SimulatedClock()
    cam = SimulatedCamera(slm, (256, 256), clock=clock, seed=11, scene=Scene(n_neurons=30),
                          light_path=LightPath(ground_truth={"scale": 0.95}))
    cam_xy1 = np.column_stack([cam.neuron_positions[TARGETS], np.ones(len(TARGETS))])
    slm_xy = cam_xy1 @ cam.true_camera_to_slm.T  # the ground truth, as a perfectly calibrated rig would
    y, x = np.mgrid[:N, :N]
    field = sum(np.exp(2j * np.pi * ((sx - N // 2) * x + (sy - N // 2) * y) / N) for sx, sy in slm_xy.round())
    spots = np.mod(np.angle(field), 2 * np.pi).astype(np.float32)
    frames = []
    for k in range(16):
        if k == 4:
            slm.show_phase(spots)
        if k == 12:
            slm.set_visible(False)  # interlock: laser off
        clock.advance(0.1)
        frames.append(cam.snap())
    meta = {
        "fps": 10,
        "stimulated_neurons": TARGETS,
        "stimulated_frames": [4, 11],
        "neuron_positions": cam.neuron_positions.round(2).tolist(),
        "source": "holostim simulated rig, assets/sample/make_sample.py",
    }
    tifffile.imwrite(OUT, np.array(frames), compression="zlib", description=json.dumps(meta))
    return OUT


if __name__ == "__main__":
    path = main()
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
