"""Which screen is the SLM: by name, serial number or geometry, never by index (Qt).

The SLM is a second monitor, and the index order of screens changes when monitors are replugged, so a
screen is named by what does not change: its connector name, its serial number or its geometry
``WxH+X+Y`` in native pixels (as xrandr reports them). An unknown or ambiguous name is refused with a
list of the screens that exist, so the user can copy the right one into the session file.

One of the SLM modules that import Qt (with ``window.py`` and ``check.py``); the rest of the package is
Qt-free.
"""

from __future__ import annotations

import re

from PyQt6.QtGui import QGuiApplication, QScreen

from holostim.hardware.slm.errors import ScreenError, SLMDisplayError

__all__ = ["describe_screens", "find_screen", "geometry_string"]


def geometry_string(screen: QScreen) -> str:
    """``WxH+X+Y`` in native pixels (as xrandr reports them), whatever Qt's scaling."""
    g, d = screen.geometry(), screen.devicePixelRatio()
    return f"{round(g.width() * d)}x{round(g.height() * d)}+{round(g.x() * d)}+{round(g.y() * d)}"


def describe_screens(app: QGuiApplication | None = None) -> list[str]:
    """One line per screen: name, serial, model, geometry ``WxH+X+Y``, device pixel ratio, refresh."""
    app = app or QGuiApplication.instance()
    out = []
    for s in app.screens():
        out.append(
            f"name={s.name()!r} serial={s.serialNumber()!r} model={s.model()!r} "
            f"geometry={geometry_string(s)} dpr={s.devicePixelRatio():g} refresh={s.refreshRate():g}Hz"
        )
    return out


def find_screen(spec: str) -> QScreen:
    """The one screen whose name, serial number or geometry (``WxH+X+Y``) equals ``spec``.

    Raises :class:`ScreenError` listing every screen when none or several match (a bare index is not
    accepted: screen order changes when monitors are replugged).
    """
    app = QGuiApplication.instance()
    if app is None:
        raise SLMDisplayError("no QGuiApplication: create one before opening the OpenGL SLM")
    spec = str(spec).strip()
    screens = app.screens()
    if re.fullmatch(r"\d+x\d+[+-]\d+[+-]\d+", spec):
        hits = [s for s in screens if geometry_string(s) == spec]
    else:
        hits = [s for s in screens if spec and spec in (s.name(), s.serialNumber())]
    listing = "\n  ".join(describe_screens(app)) or "(none)"
    if not hits:
        raise ScreenError(
            f"no screen matches slm.screen={spec!r} (by name, serial or geometry WxH+X+Y); "
            f"screens here:\n  {listing}"
        )
    if len(hits) > 1:
        raise ScreenError(
            f"slm.screen={spec!r} matches {len(hits)} screens; use the serial or the geometry WxH+X+Y "
            f"to pick one:\n  {listing}"
        )
    return hits[0]
