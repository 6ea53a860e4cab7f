"""Footprint outlines: the boundary of the pixel squares, for drawing suite2p/CaImAn ROIs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holostim.interop import read_caiman, read_suite2p
from holostim.interop.imagej import polygon_centroid
from holostim.interop.outline import mask_outline


def test_a_block_is_outlined_by_its_four_outer_pixel_corners():
    yy, xx = np.mgrid[3:6, 10:14]
    o = mask_outline(xx.ravel(), yy.ravel())
    assert sorted(map(tuple, o.tolist())) == [(9.5, 2.5), (9.5, 5.5), (13.5, 2.5), (13.5, 5.5)]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), min_size=1, max_size=40, unique=True))
def test_a_blob_outline_encloses_its_pixels(cells):
    # Grow a 4-connected blob without holes by filling from a seed: then the outline's area is the pixel
    # count and its centroid the mean pixel centre.
    mask = np.zeros((8, 8), bool)
    for x, y in cells:
        mask[y, x] = True
    from scipy import ndimage

    labels, n = ndimage.label(mask)
    sizes = ndimage.sum(mask, labels, range(1, n + 1))
    blob = ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))
    ys, xs = np.nonzero(blob)
    o = mask_outline(xs, ys)
    cx, cy, area = polygon_centroid(o)
    # A 4-connected blob without holes has no diagonal pinch (one would enclose a hole), so its boundary
    # is one loop: the polygon's area is the pixel count and its centroid the mean pixel centre.
    assert area == pytest.approx(len(xs))
    assert (cx, cy) == (pytest.approx(xs.mean()), pytest.approx(ys.mean()))
    assert np.all(np.abs(o - np.round(o - 0.5) - 0.5) < 1e-12)  # on pixel edges


def test_suite2p_and_caiman_rois_carry_outlines(tmp_path, suite2p_writer, stat_of, caiman_writer):
    yy, xx = np.mgrid[5:9, 20:23]
    rois = read_suite2p(suite2p_writer(tmp_path / "p", [stat_of(yy.ravel(), xx.ravel(), np.ones(12))]))
    assert polygon_centroid(rois.rois[0].outline)[2] == pytest.approx(12)
    img = np.zeros((1, 12, 12))
    img[0, 4:7, 4:7] = 0.01  # a faint rim holding little energy
    img[0, 5, 5] = 1.0
    roi = read_caiman(caiman_writer(tmp_path / "c.hdf5", img)).rois[0]
    assert sorted(map(tuple, roi.outline.tolist())) == [(4.5, 4.5), (4.5, 5.5), (5.5, 4.5), (5.5, 5.5)]


def test_a_footprint_in_pieces_keeps_the_largest_piece():
    xs = [0, 5, 6, 5, 6]  # one lone pixel and a 2 x 2 block elsewhere
    ys = [0, 5, 5, 6, 6]
    o = mask_outline(xs, ys)
    assert polygon_centroid(o) == (pytest.approx(5.5), pytest.approx(5.5), pytest.approx(4.0))
    with pytest.raises(ValueError):
        mask_outline([], [])
