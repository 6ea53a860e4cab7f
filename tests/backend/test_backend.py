from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest

from holostim.backend import BackendError, get_backend, gpu_available
from holostim.backend import backend as backend_module


def test_auto_picks_cupy_only_where_a_gpu_is_usable(monkeypatch):
    monkeypatch.setattr(backend_module, "gpu_available", lambda: False)
    assert backend_module._resolve_name("auto") == "numpy"
    monkeypatch.setattr(backend_module, "gpu_available", lambda: True)
    assert backend_module._resolve_name("auto") == "cupy"
    if importlib.util.find_spec("cupy") is None:  # no CuPy here at all: auto cannot be anything but numpy
        monkeypatch.undo()
        assert get_backend("auto").name == "numpy"


def test_gpu_available_asks_cuda_not_the_import(monkeypatch):
    # cupy-cuda12x imports on machines without a GPU; only cupy.cuda.is_available() tells
    answers = {"value": False}

    def is_available():
        if answers["value"] is None:
            raise RuntimeError("CUDA driver version is insufficient")
        return answers["value"]

    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=is_available))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    try:
        for value, expected in ((False, False), (True, True), (None, False)):
            answers["value"] = value
            gpu_available.cache_clear()
            assert gpu_available() is expected, value
    finally:
        gpu_available.cache_clear()  # the next caller asks the real CuPy again


def test_precision_words_choose_the_dtypes():
    be = get_backend("numpy", "single")
    assert be.complex_dtype == np.complex64 and be.real_dtype == np.float32
    assert get_backend("numpy", "double").complex_dtype == np.complex128
    assert get_backend("numpy", "double").real_dtype == np.float64
    assert get_backend("numpy", "single") is be  # shared: two parts of the program share plans
    assert get_backend(be) is be


def test_bad_words_name_the_value():
    with pytest.raises(BackendError, match="'gpu'.*auto, numpy, cupy"):
        get_backend("gpu")
    with pytest.raises(BackendError, match="'half'.*single, double"):
        get_backend("numpy", "half")


@pytest.mark.skipif(gpu_available(), reason="only meaningful where no GPU is usable")
def test_cupy_without_gpu_says_so():
    with pytest.raises(BackendError, match="no CUDA GPU is usable"):
        get_backend("cupy")
