"""The NI-DAQmx backend without NI's driver: one line that names the driver and how to install it."""

from __future__ import annotations

import pytest

from holostim.hardware import registry
from holostim.hardware.daq import DaqNotFoundError


def test_the_registry_names_it_without_importing_nidaqmx():
    assert "nidaqmx" in registry.names("daq")


def test_missing_driver_is_one_line():
    pytest.importorskip("nidaqmx")
    import nidaqmx

    try:
        nidaqmx.Task().close()
    except nidaqmx.errors.DaqNotFoundError:
        pass
    else:
        pytest.skip("NI-DAQmx is installed here: the missing-driver message cannot be shown")
    cls = registry.backend_class("daq", "nidaqmx")
    with pytest.raises(DaqNotFoundError) as info:
        cls("Dev1/port0/line0")
    msg = str(info.value)
    assert "\n" not in msg
    assert "NI-DAQmx driver not found" in msg and "installdriver" in msg


def test_missing_package_is_one_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "nidaqmx", None)  # import nidaqmx raises ImportError
    cls = registry.backend_class("daq", "nidaqmx")
    with pytest.raises(DaqNotFoundError, match="pip install nidaqmx") as info:
        cls("Dev1/port0/line0")
    assert "\n" not in str(info.value) and "NI-DAQmx" in str(info.value)
