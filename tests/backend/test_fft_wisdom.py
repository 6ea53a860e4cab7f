"""FFTW's wisdom cache can hold only data: a crafted file never runs code, and the cache round-trips."""

from __future__ import annotations

import pickle

import pytest

from holostim.backend import fft as fft_module
from holostim.backend import get_backend

pyfftw = pytest.importorskip("pyfftw")


class _Exploit:
    """Unpickling this creates ``marker``: what a crafted cache file could do during `holostim compute`."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("where", ["legacy pickle file", "new cache file"])
def test_crafted_wisdom_file_runs_no_code(tmp_path, monkeypatch, where):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    marker = tmp_path / "pwned"
    assert pickle.loads(pickle.dumps(_Exploit(str(marker)))) and marker.exists()  # the exploit works
    marker.unlink()
    cache = tmp_path / "cache" / "holostim"
    cache.mkdir(parents=True)
    crafted = cache / ("fftw-wisdom.pickle" if where == "legacy pickle file" else "fftw-wisdom.json")
    crafted.write_bytes(pickle.dumps(_Exploit(str(marker))))

    get_backend("numpy", "single").new_fft_plan((14, 10))
    assert not marker.exists()
    # The cache now holds pyFFTW's wisdom as data, and the old pickle is gone.
    assert sorted(p.name for p in cache.iterdir()) == ["fftw-wisdom.json"]
    wisdom = fft_module.decode_wisdom((cache / "fftw-wisdom.json").read_bytes())
    assert wisdom == pyfftw.export_wisdom()


def test_wisdom_encoding_round_trips_and_refuses_anything_else():
    wisdom = (b"(fftw-3.3.5 fftw_wisdom)\n", b"", b"\x00\xff binary too")
    assert fft_module.decode_wisdom(fft_module.encode_wisdom(wisdom)) == wisdom
    for bad in (b"", b"\x80\x04K\x01.", b"[1, 2]", b'{"format": "other", "wisdom": []}',
                b'{"format": "holostim-fftw-wisdom", "wisdom": ["not base64!"]}',
                b'{"format": "holostim-fftw-wisdom", "wisdom": [1]}', b"[" * 100000):
        assert fft_module.decode_wisdom(bad) is None
