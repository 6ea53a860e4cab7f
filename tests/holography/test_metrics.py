from __future__ import annotations

import numpy as np
import pytest

from holostim.holography import ImageTarget, SpotTarget, metrics


def _two_spots():
    return SpotTarget.from_pixels([[2, 3], [5, 6]], shape=(8, 8))


def test_perfect_hologram_scores_perfectly():
    t = _two_spots()
    f = np.zeros((8, 8), complex)
    f[3, 2] = np.sqrt(0.5)
    f[6, 5] = np.sqrt(0.5) * 1j
    m = metrics.evaluate(f, t)
    assert m.efficiency == pytest.approx(1)
    assert m.uniformity == pytest.approx(1)
    assert m.std_error == pytest.approx(0, abs=1e-12)
    assert m.tolerance_error == pytest.approx(0, abs=1e-12)
    assert m.gap == pytest.approx(0, abs=1e-7)


def test_analytic_values():
    t = _two_spots()
    inten = np.zeros((8, 8))
    inten[3, 2] = 0.4  # spot intensities 0.4 and 0.2, 0.4 of the power elsewhere
    inten[6, 5] = 0.2
    inten[0, 0] = 0.3  # a bright stray pixel
    inten[7, 7] = 0.1
    m = metrics.evaluate(inten, t)
    assert m.efficiency == pytest.approx(0.6)
    assert m.uniformity == pytest.approx(1 - 0.2 / 0.6)
    assert m.std_error == pytest.approx(0.1 / 0.3)
    # tolerance units: lit power 0.6 over 2 pixels -> I' = I / 0.3: spots 4/3 and 2/3, targets 1 and 1
    # lit: (1/3 - 0.1) / 0.1 each = 7/3 * 2; dark: (1 - 0.05)/0.05 + (1/3 - 0.05)/0.05
    lit = 2 * (1 / 3 - 0.1) / 0.1
    dark = (1 - 0.05) / 0.05 + (1 / 3 - 0.05) / 0.05
    assert m.tolerance_error == pytest.approx((lit + dark) / 2)
    # gap: target amplitudes sqrt(0.5) on both spots, total power 1
    d2 = (np.sqrt(0.4) - np.sqrt(0.5)) ** 2 + (np.sqrt(0.2) - np.sqrt(0.5)) ** 2 + 0.4
    assert m.gap == pytest.approx(np.sqrt(d2))
    assert metrics.uniformity(inten, t) == m.uniformity
    assert metrics.efficiency(inten, t) == m.efficiency


def test_weights_enter_uniformity_and_image_targets_work():
    t = SpotTarget.from_pixels([[2, 3], [5, 6]], shape=(8, 8), weights=[2, 1])
    inten = np.zeros((8, 8))
    inten[3, 2], inten[6, 5] = 2.0, 1.0
    assert metrics.uniformity(inten, t) == pytest.approx(1)
    img = np.zeros((8, 8))
    img[1:3, 1:3] = 1
    assert metrics.evaluate(img * 7, ImageTarget(img)).tolerance_error == pytest.approx(0)
