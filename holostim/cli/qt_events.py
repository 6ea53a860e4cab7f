"""Running blocking work beside a Qt event loop, for commands that drive the OpenGL SLM window.

An OpenGL SLM swaps frames only when its thread's event loop runs, so anything that shows a frame and
waits for it (calibration) must not block that thread. Qt is imported only inside the function.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from holostim.cli.errors import CLIError

__all__ = ["run_beside_qt_events"]

T = TypeVar("T")


def run_beside_qt_events(work: Callable[[], T]) -> T:
    """Run ``work()`` on a worker thread while this (GUI) thread processes Qt events; return its result.

    An OpenGL SLM swaps frames only when its thread's event loop runs, so anything that shows a frame
    and waits for it (calibration) must not block that thread. Exceptions from ``work`` are re-raised.
    """
    from PyQt6.QtCore import QEventLoop
    from PyQt6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if app is None:
        raise CLIError("no Qt application: create a QGuiApplication before showing frames")
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the calling thread
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=target, name="holostim-cli-worker", daemon=True)
    worker.start()
    while not done.is_set():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        done.wait(0.002)
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
