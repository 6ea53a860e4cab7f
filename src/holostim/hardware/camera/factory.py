"""``open_camera``: a camera by backend name, looked up in the one registry of device backends."""

from __future__ import annotations

import difflib
from typing import Any

from holostim.hardware import registry
from holostim.hardware.camera.base import Camera, CameraConfigError


def open_camera(backend: str = "simulated", **options: Any) -> Camera:
    """Open a camera by backend name — what the session's ``camera`` section turns into.

    The names are those of :mod:`holostim.hardware.registry` (``simulated``, ``replay``, ``opencv``,
    ``micromanager``, ``pylon`` and any backend registered there); the class is imported only now, so a
    vendor SDK is needed only for the camera actually opened.

    Parameters
    ----------
    backend : str
        Which camera: a name of ``registry.names("camera")``.
    **options
        The backend's keyword arguments: the keys of its ``Options`` model (the session's ``camera``
        section: ``exposure_ms``, ``fps`` and e.g. replay's ``path``/``loop``, opencv's
        ``index``/``width``/``height``, micromanager's ``config``/``device``/``mm_path``, pylon's ``serial``,
        ``roi``, ``pixel_format``, ``trigger``, ...) and, for the
        ``simulated`` camera, the rig it looks at (``slm``, ``shape``, ``scene``, ``activity``,
        ``light``, ``sensor``, ``seed``, ``clock``, ``name``: see
        :class:`~holostim.hardware.camera.simulated.SimulatedCamera`).

    Raises
    ------
    CameraConfigError
        Unknown backend, a missing required option or an option the backend does not take.
    CameraFileError
        A replay file or Micro-Manager configuration that is missing or unreadable.
    CameraNotFoundError
        No device at the given index / in the configuration.
    """
    key = str(backend).strip().lower()
    known = registry.names("camera")
    if key not in known:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CameraConfigError(f"unknown camera backend {backend!r}{hint}; choose one of {', '.join(known)}")
    cls = registry.backend_class("camera", key)
    for name, field in cls.Options.model_fields.items():
        if field.is_required() and options.get(name) in (None, ""):
            raise CameraConfigError(f"camera backend {key!r} needs option {name!r} (camera.{name})")
    try:
        return cls(**options)
    except TypeError as exc:
        if "unexpected keyword" not in str(exc):
            raise
        raise CameraConfigError(
            f"camera backend {key!r} does not take that option ({exc}); see open_camera's documentation"
        ) from exc
