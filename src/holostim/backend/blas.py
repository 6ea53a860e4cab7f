"""One BLAS thread for the GEMMs whose results must not depend on the machine's thread count.

OpenBLAS splits a complex GEMM differently for different thread counts, and the sums then round
differently in the last bits. For the direct-sum engine that is enough to move a gray level now and then,
so a mask computed in the GUI, by ``holostim compute`` and by a Dask worker (which runs BLAS on one
thread) would not be the same bytes. Its rank-N products are small (N spots), and one thread is also
the fast choice when the other core is busy. :func:`single_blas_thread` holds BLAS to one thread
(threadpoolctl, the library scikit-learn uses for this) for the duration of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["single_blas_thread"]

_LOCK = threading.Lock()
_CONTROLLER: Any = None


def _controller() -> Any:
    """The BLAS libraries this process has loaded, as threadpoolctl sees them (made once: it scans them)."""
    global _CONTROLLER
    with _LOCK:
        if _CONTROLLER is None:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER = ThreadpoolController()
        return _CONTROLLER


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """BLAS on one thread inside the block (the process's setting restored after it)."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
