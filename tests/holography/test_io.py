from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from holostim.errors import HolostimError
from holostim.holography.io import PhaseFileError, SpotFileError, load_spots, phase_to_gray, save_phase


def test_load_spots_with_and_without_weights(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("x_fourier_px,y_fourier_px\n10,20\n 30.5 , 40\n\n# comment\n")
    xy, w = load_spots(p)
    np.testing.assert_array_equal(xy, [[10, 20], [30.5, 40]])
    assert w is None
    p.write_text("X_Fourier_px,Y_Fourier_px,Weight\n1,2,0.5\n3,4,2\n")
    xy, w = load_spots(p)
    np.testing.assert_array_equal(w, [0.5, 2])


@pytest.mark.parametrize(
    "text,match",
    [
        ("", "is empty"),
        ("a,b\n1,2\n", "header 'a,b'.*expected 'x_fourier_px,y_fourier_px' or "
         "'x_fourier_px,y_fourier_px,weight'"),
        ("x_fourier_px,y_fourier_px\n", "no spots"),
        ("x_fourier_px,y_fourier_px\n1,2\n3\n", "line 3: 1 values, expected 2"),
        ("x_fourier_px,y_fourier_px\n1,two\n", "line 2: '1,two' is not numeric"),
    ],
)
def test_bad_spot_files(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(SpotFileError, match=match) as info:
        load_spots(p)
    assert isinstance(info.value, HolostimError)


def test_missing_spot_file(tmp_path):
    with pytest.raises(SpotFileError, match="does not exist"):
        load_spots(tmp_path / "nope.csv")


def test_save_phase_formats(tmp_path):
    ph = np.array([[0, np.pi / 2, np.pi], [3 * np.pi / 2, 2 * np.pi - 1e-9, 2 * np.pi]], np.float32)
    save_phase(tmp_path / "m.npy", ph)
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), ph)
    expected = np.array([[0, 64, 128], [192, 0, 0]], np.uint8)
    np.testing.assert_array_equal(phase_to_gray(ph), expected)
    save_phase(tmp_path / "m.png", ph)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "m.png")), expected)
    save_phase(tmp_path / "m.tif", ph)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "m.tif"), expected)
    with pytest.raises(PhaseFileError, match=r"unknown mask format '\.bmp'.*\.npy, \.png, \.tif"):
        save_phase(tmp_path / "m.bmp", ph)
    with pytest.raises(PhaseFileError, match="2-D float"):
        save_phase(tmp_path / "m.npy", np.zeros(3))
    with pytest.raises(PhaseFileError, match="cannot write"):
        save_phase(tmp_path / "no" / "dir" / "m.npy", ph)


def test_a_failed_write_leaves_the_old_mask_whole(tmp_path, monkeypatch):
    import os

    ph = np.linspace(0, 6, 64, dtype=np.float32).reshape(8, 8)
    path = save_phase(tmp_path / "m.npy", ph)
    old = path.read_bytes()

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(PhaseFileError, match="No space left"):
        save_phase(path, ph + 1)
    assert path.read_bytes() == old and sorted(p.name for p in tmp_path.iterdir()) == ["m.npy"]
