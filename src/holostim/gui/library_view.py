"""``holostim library show``: one set of a mask library, as the SLM shows it and as the sample gets it.

A small window, not the rig GUI: no session is opened, no SLM or laser is touched. Left, the set's
frame in gray levels (the same :class:`~holostim.gui.previews.MaskPreview` as the main window's); middle,
the predicted focal-plane light of that frame with a circle on each target's SLM Fourier pixel (the same
:class:`~holostim.gui.previews.FocalPreview`), so a set whose light misses its targets shows it at a
glance; right, its metrics and manifest entry. A chooser at the top steps through the library's sets.
What is drawn comes from :func:`holostim.library.view.view_set`; nothing is computed here but pictures.
"""

from __future__ import annotations

import sys

import pyqtgraph as pg
from PyQt6.QtCore import QEventLoop, Qt, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QColor, QFont
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from holostim.errors import HolostimError
from holostim.gui.previews import FocalPreview, MaskPreview
from holostim.library.view import SetView, describe_set, view_set

__all__ = ["WINDOW_SIZE", "LibraryView", "run_library_view"]

MARKER_COLOR = QColor(80, 220, 255)
"""Target circles: cyan reads on the inferno map's black and its yellow spots alike."""
WINDOW_SIZE = (1360, 580)


class LibraryView(QWidget):
    """The viewer of one library; :meth:`show_set` switches sets (the chooser calls it)."""

    closed = pyqtSignal()
    """The window was closed (what :func:`run_library_view` waits for)."""

    def __init__(self, view: SetView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.chooser = QComboBox()
        self.chooser.addItems(list(view.ids))
        self.chooser.setMaxVisibleItems(20)
        self.mask = MaskPreview()
        self.focal = FocalPreview()
        self.markers = pg.ScatterPlotItem(symbol="o", size=14, pen=pg.mkPen(MARKER_COLOR, width=1.5),
                                          brush=None, pxMode=True)
        self.focal.viewbox.addItem(self.markers)
        self.info = QPlainTextEdit()
        self.info.setReadOnly(True)
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.info.setFont(font)
        self.info.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #f07070;")

        top = QHBoxLayout()
        top.addWidget(QLabel("set"))
        top.addWidget(self.chooser)
        top.addWidget(self.error, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        for w in (self.mask, self.focal, self.info):
            split.addWidget(w)
        split.setSizes([360, 400, 560])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        self._draw(view)
        self.chooser.currentTextChanged.connect(self.show_set)

    def show_set(self, set_id: str) -> None:
        """Read and draw another set of the same library (a failure is shown, the last set stays)."""
        if set_id == self.view.set_id:
            return
        try:
            view = view_set(self.view.path, set_id)
        except HolostimError as exc:
            self.error.setText(str(exc))
            return
        self._draw(view)

    def _draw(self, view: SetView) -> None:
        self.view = view
        self.error.setText("")
        if self.chooser.currentText() != view.set_id:
            self.chooser.blockSignals(True)
            self.chooser.setCurrentText(view.set_id)
            self.chooser.blockSignals(False)
        self.mask.set_frame(view.frame, what=f"set {view.set_id}: SLM frame")
        self.focal.set_intensity(view.intensity)
        xy = view.targets_slm
        self.markers.setData(x=xy[:, 0], y=xy[:, 1])
        n = len(xy)
        self.focal.set_caption(f"predicted focus (√I), {n} target{'s' if n != 1 else ''} circled")
        self.info.setPlainText("\n".join(describe_set(view)))
        self.setWindowTitle(f"holostim library {view.manifest['name']}: {view.set_id}")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: D102, N802 - Qt override
        super().closeEvent(event)
        self.closed.emit()

    def marker_positions(self) -> list[tuple[float, float]]:
        """The circles' centres (x, y) in far-field pixels, as drawn."""
        x, y = self.markers.getData()
        return [(float(a), float(b)) for a, b in zip(x, y, strict=True)]


def run_library_view(view: SetView) -> int:
    """Show the set ``view`` (from :func:`~holostim.library.view.view_set`) until the window is closed.

    The set is read, and every input error raised as one line, before Qt starts; a machine without a
    display is one line too (:func:`holostim.gui.app.check_display`). It waits in a local event loop
    for this window, not in ``app.exec()``: called inside a running Qt program (napari's console, a
    test), it must not quit that program's application when it returns.
    """
    from holostim.gui.app import make_app

    make_app(sys.argv[:1])
    win = LibraryView(view)
    win.resize(*WINDOW_SIZE)
    loop = QEventLoop()
    win.closed.connect(loop.quit)
    win.show()
    loop.exec()
    return 0
