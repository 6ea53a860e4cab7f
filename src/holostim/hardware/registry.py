"""The one list of device backends: kind and name → class, imported only when asked for.

The session file's ``backend:`` words, the CLI's choices and the session builder all read this table,
so adding a backend is one new file plus one line here. Entries are ``"module:Class"`` strings: looking a
name up never imports a vendor SDK, and a backend whose SDK is missing fails only when it is opened,
with a message that names the SDK and how to install it.

Adding a camera, step by step (``tests/hardware/camera/test_registry.py`` does exactly this):

1. Write ``holostim/hardware/camera/<name>.py`` with a subclass of
   :class:`holostim.hardware.camera.Camera` that sets ``_shape`` and ``_dtype`` when it opens the device
   and implements ``_grab()`` (and, if the device has them, ``_set_exposure`` and ``_release``);
   import the vendor SDK inside its methods, never at the top of the module.
2. Give the class an ``Options`` model: a subclass of :class:`holostim.hardware.camera.CameraOptions`
   whose fields are the keys of the session's ``camera`` section for this backend (``exposure_ms`` and
   ``fps`` come with the base; a file is :data:`holostim.files.ExistingFile`, resolved against the
   session file's folder). The constructor takes the same names as keywords.
3. Add ``"<name>": "holostim.hardware.camera.<name>:<Class>"`` to ``BACKENDS["camera"]`` below.

The session schema (:mod:`holostim.config.camera`) then accepts ``camera: {backend: <name>, ...}`` with
its keys checked and misspellings suggested, and :func:`holostim.hardware.camera.open_camera` opens it.

Adding an SLM (``tests/hardware/test_slm_registry.py`` does this): write
``holostim/hardware/slm/<name>.py`` with a subclass of :class:`holostim.hardware.slm.SLM` that pushes
each finished frame (uint8, or uint16 with ``slm.bits`` 10/12) to the device in ``_present(record)`` and
calls ``_frame_swapped`` when the panel shows it (a vendor SDK through ctypes: see
:mod:`holostim.hardware.slm.vendor`, :mod:`~holostim.hardware.slm.meadowlark`); the base does
corrections, LUT, gray conversion, frame records and the interlock;
override ``from_config`` if the backend has settings of its own; add its line to ``BACKENDS["slm"]``.
The ``slm.backend`` words of a session are this table's names.

Adding a DAQ: write ``holostim/hardware/daq/<name>.py`` with a subclass of
:class:`holostim.hardware.daq.DAQ` that implements ``_write_gate``, ``_pulse_swap``, ``_wait_edge`` (and
``_write_ao`` if it has an analog power line), calls ``self._start()`` at the end of its constructor (the
gate starts closed) and brings an ``Options`` model (a subclass of
:class:`holostim.hardware.daq.DAQOptions`) whose fields are its constructor's keywords; add its line to
``BACKENDS["daq"]``. The session's ``daq`` section (:mod:`holostim.config.daq`) is built from it.
"""

from __future__ import annotations

import importlib
from typing import Any

from holostim.errors import HolostimError

BACKENDS: dict[str, dict[str, str]] = {
    "camera": {
        "simulated": "holostim.hardware.camera.simulated:SimulatedCamera",
        "replay": "holostim.hardware.camera.replay:ReplayCamera",
        "opencv": "holostim.hardware.camera.opencv:OpenCVCamera",
        "micromanager": "holostim.hardware.camera.micromanager:MicroManagerCamera",
        "pylon": "holostim.hardware.camera.pylon:PylonCamera",
    },
    "slm": {
        "simulated": "holostim.hardware.slm.simulated:SimulatedSLM",
        "opengl": "holostim.hardware.slm.opengl.window:OpenGLSLM",
        "meadowlark": "holostim.hardware.slm.meadowlark:MeadowlarkSLM",
        "holoeye": "holostim.hardware.slm.holoeye:HoloeyeSLM",
    },
    "daq": {
        "simulated": "holostim.hardware.daq.simulated:SimulatedDAQ",
        "serial": "holostim.hardware.daq.serial:SerialDAQ",
        "nidaqmx": "holostim.hardware.daq.nidaqmx:NIDAQmxDAQ",
    },
}


class UnknownBackendError(HolostimError, ValueError):
    """A backend name that is not in the registry."""


def names(kind: str) -> tuple[str, ...]:
    """The backend names of one device kind, in registry order."""
    try:
        return tuple(BACKENDS[kind])
    except KeyError:
        raise UnknownBackendError(f"unknown device kind {kind!r}; use one of {', '.join(BACKENDS)}") from None


def backend_class(kind: str, name: str) -> Any:
    """Import and return the class of backend ``name`` of device ``kind``."""
    table = BACKENDS.get(kind)
    if table is None:
        raise UnknownBackendError(f"unknown device kind {kind!r}; use one of {', '.join(BACKENDS)}")
    target = table.get(name)
    if target is None:
        raise UnknownBackendError(f"unknown {kind} backend {name!r}; use one of {', '.join(table)}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)
