"""Spot targets with depth: (N, 3) positions or a z argument, z = 0 by default, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest

from holostim.holography import SpotTarget, TargetError


def test_z_defaults_to_zero_and_the_2d_api_is_unchanged():
    t = SpotTarget.from_pixels([[10, 12], [20, 5]], shape=(32, 32))
    assert t.xy.shape == (2, 2) and np.array_equal(t.z, [0.0, 0.0]) and not t.is_3d
    direct = SpotTarget(np.array([[1.0, 2.0]]), np.array([1.0]), (8, 8))  # the dataclass itself
    assert np.array_equal(direct.z, [0.0]) and not direct.is_3d


def test_depths_from_a_third_column_or_from_z():
    a = SpotTarget.from_pixels([[10, 12, -5.5], [20, 5, 3.0]], shape=(32, 32), weights=[1, 2])
    b = SpotTarget.from_pixels([[10, 12], [20, 5]], shape=(32, 32), weights=[1, 2], z=[-5.5, 3.0])
    for t in (a, b):
        assert t.is_3d and np.array_equal(t.z, [-5.5, 3.0]) and t.xy.shape == (2, 2)
        np.testing.assert_array_equal(t.xyz, [[10, 12, -5.5], [20, 5, 3.0]])
    one = SpotTarget.from_pixels([[10, 12], [20, 5]], shape=(32, 32), z=4.0)
    assert np.array_equal(one.z, [4.0, 4.0])
    assert SpotTarget.from_pixels([10, 12, 1.0], shape=(32, 32)).z.tolist() == [1.0]


def test_same_xy_on_different_planes_are_distinct_spots():
    t = SpotTarget.from_pixels([[10, 12, 0.0], [10, 12, 5.0]], shape=(32, 32))
    assert len(t) == 2
    with pytest.raises(TargetError, match=r"spots 0 and 1 are both at \(x, y\) = \(10, 12\), z = 5 µm"):
        SpotTarget.from_pixels([[10, 12, 5.0], [10, 12, 5.0]], shape=(32, 32))


@pytest.mark.parametrize("xy,z,match", [
    ([[1, 2, 3]], [1.0], "depths given twice"),
    ([[1, 2], [3, 4]], [1.0, 2.0, 3.0], "3 depths for 2 spots"),
    ([[1, 2], [3, 4]], [1.0, np.inf], r"spot 1 has a non-finite depth z = inf"),
    ([[1, 2, np.nan]], None, "non-finite depth"),
    ([[1, 2]], ["deep"], "depths z .* are not numbers"),
])
def test_bad_depths(xy, z, match):
    with pytest.raises(TargetError, match=match):
        SpotTarget.from_pixels(xy, shape=(32, 32), z=z)


def test_a_3d_target_has_no_far_field_pixels():
    t = SpotTarget.from_pixels([[10, 12, 2.0]], shape=(32, 32))
    with pytest.raises(TargetError, match="3-D target .* direct-sum engine"):
        t.lit_pixels((32, 32))
