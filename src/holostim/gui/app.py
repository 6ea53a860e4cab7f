"""Start the rig GUI: ``holostim gui`` ends up in :func:`run_gui`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyqtgraph as pg
from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication, QMessageBox

from holostim.errors import HolostimError

pg.setConfigOptions(imageAxisOrder="row-major")


def apply_style(app: QApplication) -> None:
    """Fusion style with a dark palette: camera images read best on a dark surround."""
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: QColor(37, 39, 44),
        QPalette.ColorRole.WindowText: QColor(225, 225, 230),
        QPalette.ColorRole.Base: QColor(26, 27, 31),
        QPalette.ColorRole.AlternateBase: QColor(33, 35, 40),
        QPalette.ColorRole.ToolTipBase: QColor(50, 52, 58),
        QPalette.ColorRole.ToolTipText: QColor(235, 235, 240),
        QPalette.ColorRole.Text: QColor(225, 225, 230),
        QPalette.ColorRole.Button: QColor(48, 50, 56),
        QPalette.ColorRole.ButtonText: QColor(225, 225, 230),
        QPalette.ColorRole.Highlight: QColor(45, 110, 190),
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.PlaceholderText: QColor(140, 140, 150),
    }
    for role, color in roles.items():
        pal.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 128))
    app.setPalette(pal)


class NoDisplayError(HolostimError, RuntimeError):
    """The GUI was started where there is no screen to show it on."""


def check_display(environ: dict[str, str] | None = None, platform: str = sys.platform) -> None:
    """Refuse to start Qt on a Linux machine without a display.

    Qt itself would print a plugin error and abort the process, which says nothing about the cause.
    """
    env = os.environ if environ is None else environ
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        raise NoDisplayError(
            "no display: neither DISPLAY nor WAYLAND_DISPLAY is set, so the GUI has no screen. "
            "Start holostim from the rig's desktop session, or try it headless with "
            "`xvfb-run -a -s '-screen 0 1920x1200x24' scripts/run.sh`; "
            "`holostim compute` and `holostim calibrate` need no display"
        )


def make_app(argv: list[str] | None = None) -> QApplication:
    """The process's QApplication (created once, styled, named for QSettings)."""
    app = QApplication.instance()
    if app is None:
        check_display()
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName("holostim")
    app.setApplicationName("holostim")
    apply_style(app)
    return app


def run_gui(config_path: str | Path) -> int:
    """Open the session at ``config_path`` and run the main window until it is closed.

    The QApplication exists before the session opens, because an OpenGL SLM creates its window on open.
    Errors opening the session are shown in a dialog (a desktop launch has no terminal) and give exit
    status 2, like every other user error of the ``holostim`` command.
    """
    from holostim.gui.main_window import MainWindow
    from holostim.session import Session

    app = make_app()
    try:
        session = Session.open(config_path)
    except HolostimError as exc:
        QMessageBox.critical(None, "holostim: cannot open session", f"{config_path}\n\n{exc}")
        print(f"holostim: {exc}", file=sys.stderr)
        return 2
    window = MainWindow(session)
    window.show()
    return int(app.exec())
