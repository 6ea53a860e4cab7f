"""DAQ devices: TTL in, the SLM swap pulse out, the laser gate, and the analog power line.

Backends (by name in :mod:`holostim.hardware.registry`): ``simulated`` (product code, every line
observable), ``serial`` (an Arduino-class board running ``assets/firmware/holostim_daq``; its pure-Python
emulator is :mod:`holostim.hardware.daq.emulator`) and ``nidaqmx`` (NI-DAQmx). Vendor packages are
imported only inside their backend's module.
"""

from holostim.hardware.daq.base import (
    DAQ,
    DaqError,
    DaqNotFoundError,
    DAQOptions,
    PowerCalibration,
    PowerCalibrationError,
    PowerCalibrationOptions,
)
from holostim.hardware.daq.simulated import LineEvent, SimulatedDAQ

__all__ = [
    "DAQ",
    "DAQOptions",
    "DaqError",
    "DaqNotFoundError",
    "LineEvent",
    "PowerCalibration",
    "PowerCalibrationError",
    "PowerCalibrationOptions",
    "SimulatedDAQ",
    "open_daq",
]


def open_daq(backend: str, **options):
    """Open the DAQ backend ``backend`` (a registry name) with its constructor's keywords."""
    from holostim.hardware import registry

    return registry.backend_class("daq", backend)(**options)
