"""Library tests: one FFT thread (the workers are the parallelism), a small Dask cluster shared per module."""

from __future__ import annotations

import pytest
from test_session import calibrated  # noqa: F401


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 spawned worker processes, one thread each (the build's default kind)."""
    import os

    from distributed import Client, LocalCluster

    os.environ["HOLOSTIM_THREADS"] = "1"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      env={"HOLOSTIM_THREADS": "1", "HOLOSTIM_FFTW_EFFORT": "FFTW_ESTIMATE"}) as cluster, \
            Client(cluster) as c:
        yield c
