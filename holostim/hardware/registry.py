"""The one list of device backends: kind and name → class, imported only when asked for.

The session file's ``backend:`` words, the CLI's choices and the session builder all read this table,
so adding a backend is one new file plus one line here. Entries are ``"module:Class"`` strings: looking a
name up never imports a vendor SDK, and a backend whose SDK is missing fails only when it is opened,
with a message that names the SDK and how to install it.
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
    },
    "slm": {
        "simulated": "holostim.hardware.slm.simulated:SimulatedSLM",
        "opengl": "holostim.hardware.slm.window:OpenGLSLM",
    },
    "daq": {},
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
