"""Shared test set-up: GPU skipping, an artifact folder for screenshots and figures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests check correctness; FFTW_MEASURE planning only buys speed.
os.environ.setdefault("HOLOSTIM_FFTW_EFFORT", "FFTW_ESTIMATE")

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def pytest_collection_modifyitems(config, items):
    from holostim.backend import gpu_available

    if gpu_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a usable CUDA GPU (cupy.cuda.is_available() is False)")
    for item in items:
        # the marker, not ``"gpu" in item.keywords``: keywords also hold the names of the folders above the
        # test, so a checkout in a folder called gpu would skip everything
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture
def artifacts() -> Path:
    """Folder for files a person should look at after the run (screenshots, figures)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
