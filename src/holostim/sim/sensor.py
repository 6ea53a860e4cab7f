"""The simulated camera's sensor: photoelectrons to counts, with the optics core's noise model.

Exposure turns the scene's photoelectron rate into electrons; the sensor adds shot and read noise,
clips at the full well, converts with its gain, adds the dark offset and quantises to its bit depth
(:func:`holostim.optics.sensors.add_camera_noise`). Shot noise is most of a 512² frame's cost, so the
frame is processed in horizontal bands on a small thread pool (numpy's Poisson sampler releases the GIL).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from holostim.checks import non_negative, positive
from holostim.sim.errors import SimulationConfigError


def _small_int(value: object, name: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (1 <= value <= high):
        raise SimulationConfigError(f"{name}={value!r} must be an integer from 1 to {high}")
    return int(value)


@dataclass(frozen=True)
class Sensor:
    """The camera's sensor and read-out.

    Parameters
    ----------
    read_noise_e, full_well_e, gain_e_per_adu, bit_depth, dark_offset_adu :
        Read noise (e⁻ RMS), full well (e⁻), conversion gain, ADC bits, offset (ADU).
    noise : bool
        ``False`` gives the noiseless expected frame (for tests that need exact values), with the same
        full well, gain, offset and ADC range.
    noise_threads : int
        The noise runs on this many horizontal bands in parallel, each with its own seeded generator.
        Frames are reproducible for a given ``seed`` and ``noise_threads``.
    """

    read_noise_e: float = 2.0
    full_well_e: float = 30000.0
    gain_e_per_adu: float = 2.0
    bit_depth: int = 12
    dark_offset_adu: float = 100.0
    noise: bool = True
    noise_threads: int = 2

    def __post_init__(self) -> None:
        err = SimulationConfigError
        set_ = object.__setattr__  # frozen: store the checked, converted values once
        set_(self, "read_noise_e", non_negative(self.read_noise_e, "read_noise_e", err))
        set_(self, "full_well_e", positive(self.full_well_e, "full_well_e", err))
        set_(self, "gain_e_per_adu", positive(self.gain_e_per_adu, "gain_e_per_adu", err))
        set_(self, "bit_depth", _small_int(self.bit_depth, "bit_depth", 16))
        set_(self, "dark_offset_adu", non_negative(self.dark_offset_adu, "dark_offset_adu", err))
        set_(self, "noise", bool(self.noise))
        set_(self, "noise_threads", _small_int(self.noise_threads, "noise_threads", 16))

    @property
    def dtype(self) -> np.dtype:
        """Pixel dtype of the frames: 8 bits or fewer fit ``uint8``, more ``uint16``."""
        return np.dtype(np.uint8 if self.bit_depth <= 8 else np.uint16)


class Readout:
    """One sensor's read-out state: its seeded noise generators and, once needed, its thread pool.

    Generators are seeded by ``[seed, 2, band]``. The pool is started on first use, from the thread
    that reads frames, so its threads inherit that thread's priority (the simulated camera renders at
    a lower priority than hologram computation).
    """

    def __init__(self, sensor: Sensor, shape: tuple[int, int], seed: int) -> None:
        self.sensor = sensor
        self.shape = shape
        self._rngs = [np.random.default_rng([int(seed), 2, k]) for k in range(sensor.noise_threads)]
        self._pool: ThreadPoolExecutor | None = None

    def read(self, electrons: np.ndarray) -> np.ndarray:
        """Counts of a frame of ``electrons`` (float32, camera shape), in the sensor's dtype."""
        s = self.sensor
        if not s.noise:  # the expected frame: same full well, gain, offset and ADC range, no noise
            counts = np.minimum(electrons, s.full_well_e) / s.gain_e_per_adu + s.dark_offset_adu
            np.clip(np.rint(counts), 0, 2**s.bit_depth - 1, out=counts)
            return counts.astype(s.dtype)
        return self._add_noise(electrons)

    def _add_noise(self, electrons: np.ndarray) -> np.ndarray:
        """The optics core's sensor model, on ``noise_threads`` bands of rows at once."""
        from holostim.optics.sensors import add_camera_noise

        s = self.sensor
        # pixels with >= 20 expected electrons take the normal limit of shot noise: a 512² frame then costs
        # about a third as much, and a camera image cannot tell the difference (skew 1/√20)
        kw = dict(read_noise=s.read_noise_e, gain=s.gain_e_per_adu, offset=s.dark_offset_adu,
                  bit_depth=s.bit_depth, full_well=s.full_well_e, gaussian_above=20.0)
        n = s.noise_threads
        bands = np.array_split(np.arange(self.shape[0]), n)
        if n == 1:
            return add_camera_noise(electrons, rng=self._rngs[0], **kw)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(n - 1, thread_name_prefix="holostim-noise")
        sl = [slice(int(b[0]), int(b[-1]) + 1) for b in bands]
        futures = [
            self._pool.submit(add_camera_noise, electrons[sl[k]], rng=self._rngs[k], **kw)
            for k in range(1, n)
        ]
        first = add_camera_noise(electrons[sl[0]], rng=self._rngs[0], **kw)  # this thread works too
        out = np.empty(self.shape, first.dtype)
        out[sl[0]] = first
        for k, fut in enumerate(futures, start=1):
            out[sl[k]] = fut.result()
        return out

    def close(self) -> None:
        """Stop the thread pool (a later frame starts a new one)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
