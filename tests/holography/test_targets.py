from __future__ import annotations

import numpy as np
import pytest

from holostim.errors import HolostimError
from holostim.holography import ImageTarget, SpotTarget, TargetError, siemens_star


def test_from_pixels_normalises_weights_and_keeps_positions():
    t = SpotTarget.from_pixels([[10, 20], [30.4, 40.6]], shape=(64, 64), weights=[1, 3])
    assert t.shape == (64, 64) and len(t) == 2
    np.testing.assert_allclose(t.weights, [0.25, 0.75])
    iy, ix = t.lit_pixels((64, 64))
    # (x, y) -> array index (iy, ix), rounded to the nearest pixel
    np.testing.assert_array_equal(iy, [20, 41])
    np.testing.assert_array_equal(ix, [10, 30])


def test_padding_places_spots_on_the_finer_grid():
    # x = 32.5 on a 64 grid with padding 2: 2 * (32.5 - 32) = 1 px right of the zero order (64)
    t = SpotTarget.from_pixels([[32.5, 31.0]], shape=(64, 64))
    iy, ix = t.lit_pixels((128, 128))
    assert (int(iy[0]), int(ix[0])) == (62, 65)
    with pytest.raises(TargetError, match="not an integer multiple"):
        t.lit_pixels((100, 128))


@pytest.mark.parametrize(
    "xy,weights,match",
    [
        ([[64, 3]], None, r"outside the 64x64 grid.*0 <= x <= 63"),
        ([[-0.6, 3]], None, "outside"),
        ([[3, 70]], None, "outside"),
        ([[np.nan, 3]], None, "non-finite position"),
        (np.zeros((0, 2)), None, "no spots"),
        ([[1, 2, 3, 4]], None, r"need \(N, 2\) columns \(x, y\) or \(N, 3\)"),
        ([[1, 2], [3, 4]], [1, np.nan], "weight nan"),
        ([[1, 2], [3, 4]], [1, -2], "weight -2"),
        ([[1, 2], [3, 4]], [1, 0], "weight 0"),
        ([[1, 2], [3, 4]], [1], "1 weights for 2 spots"),
        ([[1, 2], [3, 4], [1, 2]], None, r"spots 0 and 2 are both at \(x, y\) = \(1, 2\)"),
        ("abc", None, "not numbers"),
    ],
)
def test_bad_spots_raise_target_error(xy, weights, match):
    with pytest.raises(TargetError, match=match) as info:
        SpotTarget.from_pixels(xy, shape=(64, 64), weights=weights)
    assert isinstance(info.value, HolostimError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("shape", [(0, 4), (4,), (4, 4, 4), (4.5, 4), "ab", None, (True, 4), (-3, 4)])
def test_bad_shape(shape):
    with pytest.raises(TargetError, match="must be two positive integers"):
        SpotTarget.from_pixels([[1, 1]], shape=shape)


def test_image_target_checks_and_upsampling():
    with pytest.raises(TargetError, match="all zero"):
        ImageTarget(np.zeros((8, 8)))
    with pytest.raises(TargetError, match="negative"):
        ImageTarget(-np.ones((8, 8)))
    with pytest.raises(TargetError, match="NaN"):
        ImageTarget(np.full((8, 8), np.nan))
    with pytest.raises(TargetError, match="2-D"):
        ImageTarget(np.ones(8))
    img = np.zeros((8, 8))
    img[4, 4] = 1  # the zero order
    img[4, 6] = 1
    t = ImageTarget(img)
    assert np.isclose(t.intensity.sum(), 1)
    up = t.on_grid((16, 16))
    assert np.isclose(up.sum(), 1)
    # the zero order stays on the zero order; a pixel 2 to the right covers 4 to 5 px right on the finer grid
    assert up[8, 8] > 0 and up[8, 12] > 0 and up[8, 10] == 0


def test_siemens_star_has_the_asked_spokes():
    star = siemens_star((256, 256), spokes=36, radius=100)
    img = star.intensity > 0
    assert not img[128, 128]  # zero order dark
    assert not img[128, 128 + 101] and not img[0, 0]  # outside the radius
    # walking round a circle of radius 80 crosses 72 light/dark edges
    th = np.linspace(0, 2 * np.pi, 4000, endpoint=False) + 1e-3
    ring = img[np.rint(128 + 80 * np.sin(th)).astype(int), np.rint(128 + 80 * np.cos(th)).astype(int)]
    edges = np.count_nonzero(ring != np.roll(ring, 1))
    assert 70 <= edges <= 74
    assert 0.4 < img.sum() / (np.pi * 100**2) < 0.6


def test_spots_rounding_to_one_pixel_are_refused_unless_padding_separates_them():
    from holostim.holography import HologramEngine

    t = SpotTarget.from_pixels([[10.2, 20.0], [10.4, 20.0], [30, 30]], shape=(64, 64))
    with pytest.raises(TargetError, match=r"spots 0 at \(10.2, 20\) and 1 at \(10.4, 20\) fall on the same"):
        t.lit_pixels((64, 64))
    with pytest.raises(TargetError, match="use computational padding"):
        HologramEngine((64, 64), backend="numpy").compute(t, iterations=1)
    iy, ix = t.lit_pixels((256, 256))  # padding 4: 128 + 4 (10.2 - 32) = 40.8 -> 41, 41.6 -> 42
    assert list(ix[:2]) == [41, 42] and list(iy[:2]) == [80, 80]
    assert HologramEngine((64, 64), backend="numpy", padding=4).compute(t, iterations=2).iterations == 2
