"""A Qt application and event loop for the OpenGL SLM outside the GUI (the CLI, scripts, tests).

An OpenGL SLM swaps frames only while its thread's Qt event loop runs, so a command that shows a frame
and waits for it (calibration, ``slm-check``) needs a Qt application and must not block that thread.
This module is one of the few that may import Qt; the CLI imports it only for OpenGL sessions.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from PyQt6.QtCore import QEventLoop
from PyQt6.QtGui import QGuiApplication

from holostim.hardware.slm.errors import SLMDisplayError

__all__ = ["qt_application", "run_beside_qt_events"]

T = TypeVar("T")


def qt_application() -> QGuiApplication:
    """The running Qt application, or a new one (keep a reference to it while windows are shown)."""
    app = QGuiApplication.instance()
    return app if app is not None else QGuiApplication(sys.argv[:1])


def run_beside_qt_events(work: Callable[[], T]) -> T:
    """Run ``work()`` on a worker thread while this (GUI) thread processes Qt events; return its result.

    Exceptions from ``work`` are re-raised here.
    """
    app = QGuiApplication.instance()
    if app is None:
        raise SLMDisplayError("no Qt application: create one (qt_application()) before showing frames")
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the calling thread
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=target, name="holostim-qt-worker", daemon=True)
    worker.start()
    while not done.is_set():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        done.wait(0.002)
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
