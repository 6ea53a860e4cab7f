"""Preview docks: the mask as the SLM will show it, and the predicted focal-plane intensity.

Both only display arrays the session computed (the SLM's uint8 frame and the optics core's predicted
intensity); nothing optical is calculated here. Both describe what the SLM shows now, never an edit that
was not sent: the window feeds them only patterns that reached the SLM (and the test patterns).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget
from scipy import ndimage

pg.setConfigOptions(imageAxisOrder="row-major")

MAX_PREVIEW_PX = 512
"""Longest side drawn in a preview dock (larger arrays are shown decimated)."""


class _ImagePreview(QWidget):
    """A locked-aspect image with a one-line caption underneath."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(QColor(16, 16, 20))
        self.viewbox = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.viewbox.addItem(self.image)
        self.caption = QLabel(caption)
        self.caption.setStyleSheet("color: #888; font-size: 9pt;")
        # A caption asks for no width: a longer caption must not widen the dock, which would shrink the
        # camera view and move the image under the user's cursor.
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(1)
        lay.addWidget(self.graphics, 1)
        lay.addWidget(self.caption)
        self._shape: tuple[int, ...] | None = None
        self.data: np.ndarray | None = None
        self.max_px = MAX_PREVIEW_PX

    def set_caption(self, text: str) -> None:
        """One line under the image (also its tooltip, for a dock too narrow to show it all)."""
        self.caption.setText(text)
        self.caption.setToolTip(text)

    def clear(self, caption: str) -> None:
        """Show nothing, and say why in the caption."""
        self.data = None
        self.image.clear()
        self.set_caption(caption)

    def _show(self, img: np.ndarray, levels: tuple[float, float], reduce: str = "stride") -> None:
        self.data = img
        # The dock is a few hundred pixels wide: drawing every pixel of a 1920×1152 frame would only cost
        # GUI-thread time. Show every k-th pixel, or the maximum of each k×k block so single-pixel spots
        # stay visible (the full array stays in ``data``).
        k = max(1, int(np.ceil(max(img.shape[:2]) / self.max_px)))
        if k > 1 and reduce == "max":
            h, w = (img.shape[0] // k) * k, (img.shape[1] // k) * k
            shown = img[:h, :w].reshape(h // k, k, w // k, k).max(axis=(1, 3))
        else:
            shown = img[::k, ::k]
        self.image.setImage(shown, levels=levels, autoLevels=False)
        if img.shape != self._shape:
            self._shape = img.shape
            h, w = img.shape[:2]
            self.image.setRect(QRectF(-0.5, -0.5, w, h))
            self.viewbox.setRange(xRange=(-0.5, w - 0.5), yRange=(-0.5, h - 0.5), padding=0)


class MaskPreview(_ImagePreview):
    """The exact uint8 frame sent to the SLM, shown as gray levels 0..2**bit_depth - 1."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("SLM frame (gray levels)", parent)

    def set_frame(self, frame: np.ndarray, what: str = "SLM frame") -> None:
        """Show ``frame`` with fixed levels (its dtype's full range) so gray g always looks the same."""
        frame = np.asarray(frame)
        self._show(frame, (0, int(np.iinfo(frame.dtype).max)))
        h, w = frame.shape[:2]
        self.set_caption(f"{what} {w}×{h}, gray {int(frame.min())}–{int(frame.max())}")


class FocalPreview(_ImagePreview):
    """Predicted focal-plane intensity, on a square-root scale so weak spots and ghosts are visible."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("predicted focal-plane intensity (√I)", parent)
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.max_px = 256  # block maxima: every spot of a 1024² plane stays visible in a small dock

    def set_intensity(self, intensity: np.ndarray) -> None:
        """Show the predicted intensity (any positive scale)."""
        inten = np.asarray(intensity, dtype=np.float32)
        peak = float(inten.max()) if inten.size else 0.0
        amp = np.sqrt(inten / peak) if peak > 0 else inten
        # A diffraction-limited spot is one pixel of the Fourier plane: widen each to 5×5 for the eye.
        amp = ndimage.maximum_filter(amp, size=5)
        self._show(amp, (0.0, 1.0), reduce="max")
        h, w = inten.shape[:2]
        self.set_caption(f"predicted focus (√I, spots widened), {w}×{h}")
