"""The simulated world: neurons in a sample, their calcium activity, the SLM's light on them, the sensor.

It sits below the device layer and imports no device: the simulated camera
(:class:`holostim.hardware.camera.SimulatedCamera`) is a thin camera over a :class:`SimulatedWorld`, and
the SLM it looks through is any object with the simulated SLM's attributes. Its parameters are small
frozen dataclasses, one per part of the rig, validated when they are made:

- :class:`Scene`: what lies under the objective (neurons or a slide), how bright it is, and the planes
  the neurons lie in (:mod:`holostim.sim.depth`);
- :class:`Activity`: firing rates, threshold and calcium transients (the rate model);
- :class:`NetworkParams`: a responding network instead (connectivity, opsin, GCaMP-class indicator);
- :class:`LightPath`: Fourier lens, beam, camera PSF, the axial optics and imaged plane (``focus_um``),
  and the hidden :class:`GroundTruth` (lateral map, pixel envelope, true defocus scale and offset);
- :class:`Sensor`: noise, gain, bit depth.

:class:`SimulatedClock` is a clock that moves only when told to, for exact tests.
"""

from holostim.sim.activity import Activity, Calcium
from holostim.sim.clock import SimulatedClock
from holostim.sim.errors import SimulationConfigError
from holostim.sim.ground_truth import GroundTruth
from holostim.sim.indicator import Indicator
from holostim.sim.light import Light, LightPath
from holostim.sim.network import Network, NetworkParams, Spike
from holostim.sim.sample import SAMPLES, Sample, Scene
from holostim.sim.sensor import Readout, Sensor
from holostim.sim.world import SimulatedWorld, camera_shape

__all__ = [
    "SAMPLES",
    "Activity",
    "Calcium",
    "GroundTruth",
    "Indicator",
    "Light",
    "LightPath",
    "Network",
    "NetworkParams",
    "Readout",
    "Sample",
    "Scene",
    "Sensor",
    "SimulatedClock",
    "SimulatedWorld",
    "SimulationConfigError",
    "Spike",
    "camera_shape",
]
