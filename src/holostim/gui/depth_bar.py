"""The depth bar above the camera view: the depth new clicks get, and the plane the camera images.

A camera images one plane of the sample, but holographic targets can sit on other planes (``z_um``,
sample µm from the focal plane, positive deeper). So a click needs a depth, and the view must say which
plane its image is: "new targets at z" is the depth a click gives a target, and the focus line says
where the camera's image is. Where the session's camera has a settable ``focus_um`` (the simulated
camera; a motorised objective would too) a spin box moves it, and the new-target depth follows it (the
cell under the cursor is on the plane in view), until the user sets another; a camera without one
images the focal plane only, which the line says ("camera focus fixed at 0 µm").

The focus is read back from the camera a few times a second, so a focus moved by other code shows too.
"""

from __future__ import annotations

import math
from typing import Any

from PyQt6.QtCore import QTimer, pyqtSignal
from PyQt6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

FOCUS_POLL_MS = 250
"""How often the camera's focus is read back (another caller may move it)."""
DEPTH_STEP_UM = 5.0
"""One arrow step of the depth spin boxes."""


def depth_text(z_um: float) -> str:
    """A depth as the view labels it: signed, whole µm where it is one ("+20 µm", "-7.5 µm")."""
    z = float(z_um)
    return f"{z:+.0f} µm" if abs(z - round(z)) < 0.05 else f"{z:+.1f} µm"


def _spin(tooltip: str) -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setDecimals(1)
    s.setSingleStep(DEPTH_STEP_UM)
    s.setSuffix(" µm")
    s.setKeyboardTracking(False)  # typing "25" is one change, not "2" then "25"
    s.setToolTip(tooltip)
    return s


class DepthBar(QWidget):
    """"new targets at z [spin]" and "camera focus z = … µm [spin]" (module docstring)."""

    newDepthChanged = pyqtSignal(float)
    """The depth (sample µm) the next clicked target gets."""
    focusChanged = pyqtSignal(float)
    """The plane the camera images now (sample µm), after the user moved it or the camera reported it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.camera: Any = None
        self.limit_um = 0.0
        self.new_z = _spin("the depth a clicked target gets")  # the full tooltip: set_limit
        self.focus_label = QLabel()
        self.focus_spin = _spin("move the camera's focal plane (sample µm; positive deeper)")
        self.focus_spin.setRange(-1e4, 1e4)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.addWidget(QLabel("new targets at z"))
        lay.addWidget(self.new_z)
        lay.addSpacing(16)
        lay.addWidget(self.focus_label)
        lay.addWidget(self.focus_spin)
        lay.addStretch(1)
        self.new_z.valueChanged.connect(lambda v: self.newDepthChanged.emit(float(v)))
        self.focus_spin.valueChanged.connect(self._focus_edited)
        self._timer = QTimer(self)
        self._timer.setInterval(FOCUS_POLL_MS)
        self._timer.timeout.connect(self.refresh)
        self.set_limit(None)
        self.attach(None)

    # -- set-up --------------------------------------------------------------------------------------
    def set_limit(self, limit_um: float | None, why: str = "") -> None:
        """New targets may be placed within ±``limit_um`` (``None``/0: the focal plane only, ``why``)."""
        lim = 0.0 if limit_um is None or not math.isfinite(limit_um) else max(0.0, float(limit_um))
        self.limit_um = lim
        self.new_z.setRange(-lim, lim)
        self.new_z.setEnabled(lim > 0)
        base = "the depth a clicked target gets (sample µm from the focal plane, positive deeper)"
        reach = f"reachable: ±{lim:.0f} µm" if lim > 0 else "only the focal plane here"
        self.new_z.setToolTip(f"{base}; {reach}" + (f" ({why})" if why else ""))

    def attach(self, camera: Any) -> None:
        """Follow ``camera``'s ``focus_um`` where it has a settable one; ``None``: no camera."""
        self.camera = camera
        focus = self._camera_focus()
        movable = focus is not None
        self.focus_spin.setVisible(movable)
        if movable:
            self.focus_label.setText("camera focus z =")
            self._show_focus(focus)
            self._timer.start()
        else:
            self._timer.stop()
            self.focus_label.setText("camera focus fixed at 0 µm (the focal plane)")
            self.focusChanged.emit(0.0)

    def detach(self) -> None:
        """Stop following the camera (the session is closing)."""
        self._timer.stop()
        self.camera = None

    # -- reading -------------------------------------------------------------------------------------
    @property
    def focus_um(self) -> float:
        """The plane the camera images now (0 for a camera without a settable focus)."""
        f = self._camera_focus()
        return 0.0 if f is None else f

    @property
    def new_depth_um(self) -> float:
        """The depth the next clicked target gets."""
        return float(self.new_z.value())

    def focus_text(self) -> str:
        """What the bar says about the camera's plane ("camera focus z = +20 µm" or fixed)."""
        f = self._camera_focus()
        return self.focus_label.text() if f is None else f"camera focus z = {depth_text(f)}"

    def refresh(self) -> None:
        """Read the camera's focus again and show it if it moved."""
        f = self._camera_focus()
        if f is not None and abs(f - self.focus_spin.value()) > 1e-6:
            self._show_focus(f)

    # -- helpers -------------------------------------------------------------------------------------
    def _camera_focus(self) -> float | None:
        f = getattr(self.camera, "focus_um", None)
        try:
            return None if f is None else float(f)
        except (TypeError, ValueError):
            return None

    def _show_focus(self, f: float) -> None:
        self.focus_spin.blockSignals(True)
        self.focus_spin.setValue(f)
        self.focus_spin.blockSignals(False)
        self.focusChanged.emit(float(f))

    def _focus_edited(self, value: float) -> None:
        if self.camera is None or self._camera_focus() is None:
            return
        self.camera.focus_um = float(value)
        now = self.focus_um  # what the camera took (it may round or clamp)
        if abs(now - value) > 1e-6:
            self._show_focus(now)
        else:
            self.focusChanged.emit(now)
        self.new_z.setValue(max(-self.limit_um, min(self.limit_um, now)))  # clicks land on the plane in view
