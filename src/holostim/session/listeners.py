"""A tiny event bus: named events, callbacks that can be removed, and a broken one never breaks the loop.

The session tells its listeners (the GUI, the CLI, tests) about results, interlock changes and SLM
frames from several threads; a listener that raises is logged and skipped, because a bug in a display
must never stop stimulation or its log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Listeners"]

log = logging.getLogger(__name__)


class Listeners:
    """Callbacks per event name; the names are fixed when it is made.

    Parameters
    ----------
    events : sequence of str
        The events there are.
    error : exception class
        Raised (naming the events) for an unknown event name.
    name : str
        Whose events they are, for messages ("unknown session event ...").
    """

    def __init__(self, events: Sequence[str], error: type[Exception] = ValueError, name: str = "session"):
        self.events = tuple(events)
        self._error = error
        self._name = name
        self._callbacks: dict[str, list[Callable[..., None]]] = {e: [] for e in self.events}

    def add(self, event: str, callback: Callable[..., None]) -> Callable[[], None]:
        """Call ``callback`` on ``event``; returns a function that removes it (safe to call twice)."""
        if event not in self._callbacks:
            raise self._error(f"unknown {self._name} event {event!r}; use one of {', '.join(self.events)}")
        self._callbacks[event].append(callback)

        def remove() -> None:
            try:
                self._callbacks[event].remove(callback)
            except ValueError:
                pass

        return remove

    def emit(self, event: str, *args: Any) -> None:
        """Call every callback of ``event`` with ``args``, on this thread; failures are logged."""
        for cb in list(self._callbacks[event]):
            try:
                cb(*args)
            except Exception:  # a broken listener must not break the stimulation loop
                log.exception("%s %s listener %r failed", self._name, event, cb)
