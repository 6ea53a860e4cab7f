"""ROIs from an imaging analysis, in the imaging frame: :class:`ROI` and :class:`ROISet`.

Labs pick their stimulation targets from their calcium-imaging segmentation (suite2p, CaImAn, Fiji),
so an ROI keeps what a target needs — a centre — and what lets the user judge it: the source's own id
(to map a target back to the analysis), the classifier's verdict, the footprint size and, where the
format has one, the outline.

Coordinates are holostim's: ``(x, y)`` with ``x`` the column and ``y`` the row, pixel ``(i, j)``'s
*centre* at ``(j, i)`` — the convention of suite2p's ``xpix``/``ypix`` and CaImAn's pixel indices.
ImageJ draws pixel corners on integers; its reader shifts by half a pixel into this convention.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from holostim.interop.errors import InteropError

__all__ = ["ROI", "Footprint", "ROISet"]

Footprint = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(xpix, ypix, weights)``: the pixels of an ROI and their weights (suite2p ``lam``, CaImAn ``A``)."""


@dataclass(frozen=True)
class ROI:
    """One region of interest in the imaging frame.

    Attributes
    ----------
    id : int
        The source's own 0-based index: suite2p's row in ``stat.npy``, CaImAn's column of ``A``,
        ImageJ's position in the ``RoiSet.zip`` (0 for a single ``.roi``).
    x, y : float
        The centroid in imaging pixels, weighted by the footprint (suite2p ``lam``, CaImAn's ``A``
        column) or the centroid of the area (ImageJ).
    npix : int
        Pixels in the footprint (ImageJ: the area, rounded).
    outline : ndarray (K, 2) or None
        A closed polygon ``(x, y)``: ImageJ's own; for suite2p the boundary of the footprint's pixels,
        for CaImAn that of the pixels holding 90 % of its energy (CaImAn's contour rule).
    probability : float or None
        The classifier's probability that it is a cell (suite2p ``iscell[:, 1]``, CaImAn
        ``cnn_preds``); ``None`` where the format has none.
    is_cell : bool or None
        The analysis's verdict (suite2p ``iscell[:, 0]``, CaImAn ``idx_components``); ``None`` where
        nothing was classified.
    name : str or None
        ImageJ's ROI name.
    footprint : (xpix, ypix, weights) or None
        The weighted pixels where the format has them (suite2p, CaImAn), for drawing the ROI as a mask.
    """

    id: int
    x: float
    y: float
    npix: int
    outline: np.ndarray | None = field(default=None, compare=False, repr=False)
    probability: float | None = None
    is_cell: bool | None = None
    name: str | None = None
    footprint: Footprint | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ROISet:
    """The ROIs of one file, with where they came from.

    ``image_shape`` is the imaging frame ``(height, width)`` where the file says it (suite2p ``Ly, Lx``,
    CaImAn ``dims``), else ``None``; ``mean_image`` is suite2p's ``meanImg`` where present (for
    picking registration landmarks beside the camera view).
    """

    rois: tuple[ROI, ...]
    image_shape: tuple[int, int] | None
    source: Path
    format: str
    mean_image: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.rois)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.rois)

    def centroids(self) -> np.ndarray:
        """The ``(N, 2)`` centroids ``(x, y)`` in imaging pixels."""
        return np.array([(r.x, r.y) for r in self.rois], dtype=np.float64).reshape(-1, 2)

    def select(self, min_prob: float | None = None, cells_only: bool = False) -> ROISet:
        """The ROIs that pass: probability ≥ ``min_prob``; with ``cells_only``, the analysis's cells.

        ``min_prob`` needs probabilities: a file without them (ImageJ, CaImAn without a CNN
        classifier) is an :class:`InteropError` rather than an empty or unfiltered result.
        ``cells_only`` keeps the ROIs the analysis accepted (suite2p's ``iscell`` flag, CaImAn's
        ``idx_components``); an ROI nobody classified (``is_cell`` is ``None``, e.g. one drawn in
        Fiji) was chosen by hand and is kept.
        """
        rois = self.rois
        if min_prob is not None:
            p = float(min_prob)
            if not 0.0 <= p <= 1.0:
                raise InteropError(f"--min-prob {min_prob!r} must be a probability between 0 and 1")
            if any(r.probability is None for r in rois):
                raise InteropError(
                    f"{self.source}: this {self.format} file has no cell probabilities, so --min-prob "
                    "cannot select from it; use --cells-only or keep all ROIs")
            rois = tuple(r for r in rois if r.probability is not None and r.probability >= p)
        if cells_only:
            rois = tuple(r for r in rois if r.is_cell is not False)
        return replace(self, rois=rois)
