"""CUDA-graph replay of the engine's loop: a fixed number of iterations as one launch.

``HologramEngine(..., cuda_graph=True)`` (session key ``engine.cuda_graph``). On the GPU an iteration is a
handful of small launches (two cuFFTs, the Fourier-step kernels, a memset, the SLM-plane kernel), and at
512² the time to *launch* them from Python is comparable to the time to run them. Stream capture records
the whole loop of ``iterations`` iterations once into a :class:`cupy.cuda.Graph`; each later compute
with the same shape of work replays it with one launch.

**Graph mode is a fixed iteration count.** A graph cannot stop early, so it is used only for computes
whose stop rule is ``iterations`` alone: a ``tolerance`` or ``budget_ms`` stop, or ``history=True``
(per-iteration metrics), run the plain loop, with one log line per engine saying so. The result is the
same either way (same kernels, same order); ``stopped_by`` is ``"iterations"``.

What a graph remembers is device *addresses*, so everything its kernels touch must live at the same
address at every replay: the engine's FFT buffer, source amplitude and RAAR iterate already do; the
per-spot vectors of a compute (lit-pixel indices, target amplitudes, weights, step state, Kim's phasors,
scratch) are copied into buffers owned by the graph before each replay, and the compute's state is
pointed at them. A graph is kept per (method, warm start, iterations, spot count, beta, fix_after): the
constants baked into its launches. Nothing in the loop allocates device memory (the kernels were written
for this), and the kernels are loaded before capture.

Fallbacks, each with one log line: not on CuPy (the numpy backend or ``fast=False``) -> the plain loop
always; a capture that fails -> the plain loop from then on for this engine. A capture executes nothing,
so the compute that failed to capture continues unchanged in the plain loop.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["CupyGraphs", "GraphApi", "GraphLoop"]

log = logging.getLogger(__name__)

MAX_GRAPHS = 4  # graphs kept per engine (each holds its own per-spot buffers; the FFT buffers are shared)
_SPOT_FIELDS = ("idx_d", "t", "w", "step", "phase", "g", "a")


class GraphApi(Protocol):
    """What :class:`GraphLoop` needs from CUDA: a stream, capture of a body, replay of a graph."""

    def new_stream(self) -> Any:
        """A stream to capture on and replay in."""

    def capture(self, stream: Any, body) -> Any:
        """Record ``body()`` (run nothing) into a graph."""

    def replay(self, graph: Any, stream: Any) -> None:
        """Launch ``graph``, ordered after the work queued so far and before the work queued next."""


class CupyGraphs:
    """:class:`GraphApi` on CuPy: a non-blocking stream, relaxed-mode stream capture, event ordering."""

    def __init__(self):
        import cupy

        self.cupy = cupy

    def new_stream(self):  # noqa: D102
        return self.cupy.cuda.Stream(non_blocking=True)

    def capture(self, stream, body):  # noqa: D102
        with stream:
            stream.begin_capture()  # (CuPy's default mode is relaxed)
            try:
                body()
            except BaseException:
                try:
                    stream.end_capture()  # leave the stream usable
                except Exception:  # noqa: S110 - the capture's own error is the one to report
                    pass
                raise
            return stream.end_capture()

    def replay(self, graph, stream) -> None:  # noqa: D102
        current = self.cupy.cuda.get_current_stream()
        stream.wait_event(current.record())  # after the compute's start (upload, starting field)
        graph.launch(stream)
        current.wait_event(stream.record())  # before its finish (phase read-out, metrics)


@dataclass
class _Entry:
    graph: Any
    spots: dict[str, Any]


class GraphLoop:
    """The graph cache of one engine (see the module docstring).

    ``api`` is the CUDA side (default :class:`CupyGraphs`); tests pass a recording stand-in that "captures"
    the body without running it and "replays" by running it, the semantics of a real graph.
    """

    def __init__(self, api: GraphApi | None = None, max_graphs: int = MAX_GRAPHS):
        self.api = api if api is not None else CupyGraphs()
        self.max_graphs = int(max_graphs)
        self.enabled = True
        self._stream = None
        self._graphs: OrderedDict[tuple, _Entry] = OrderedDict()
        self._said: set[str] = set()
        self.captures = 0
        self.replays = 0

    def _say(self, what: str, level: int, msg: str, *args) -> None:
        if what not in self._said:
            self._said.add(what)
            log.log(level, msg, *args)

    def fits(self, run, stop, budget) -> bool:
        """Whether this compute can be a graph: a fixed iteration count, no per-iteration metrics."""
        if not self.enabled:
            return False
        if run.history or stop.tolerance is not None or budget is not None or stop.iterations is None:
            self._say("stop", logging.INFO, "cuda_graph: a compute with a tolerance, a time budget or a "
                      "history runs the plain loop (graph mode is a fixed iteration count)")
            return False
        return stop.iterations > 0

    def run(self, engine, run, iterations: int) -> int | None:
        """Run ``iterations`` iterations of ``run`` as one graph launch; ``None`` if it could not capture."""
        key = (run.method, run.mode, run.warm, int(iterations), int(run.idx.shape[0]), run.beta,
               run.fix_after)
        entry = self._graphs.get(key)
        if entry is not None:
            for name in _SPOT_FIELDS:
                entry.spots[name][...] = getattr(run, name)
            self._graphs.move_to_end(key)
        else:
            entry = self._capture(engine, run, iterations)
            if entry is None:
                return None
            self._graphs[key] = entry
            while len(self._graphs) > self.max_graphs:
                self._graphs.popitem(last=False)
        for name in _SPOT_FIELDS:
            setattr(run, name, entry.spots[name])
        self.api.replay(entry.graph, self._stream)
        self.replays += 1
        if run.weights is not None:  # the weights kept for a warm start must not alias the graph's buffer
            run.weights = run.w.copy()
        return int(iterations)

    def _capture(self, engine, run, iterations: int) -> _Entry | None:
        xp = engine.backend.xp
        spots = {name: xp.array(getattr(run, name), copy=True) for name in _SPOT_FIELDS}
        # the body sees the graph's buffers, from now on and at every replay
        bound = _bound(run, spots)
        if self._stream is None:
            self._stream = self.api.new_stream()
        preload = getattr(engine._kern, "preload", None)
        if preload is not None:
            preload(engine.backend.real_dtype)

        def body():
            for k in range(iterations):
                engine._plan.forward()
                engine._iterate(bound, k)

        try:
            graph = self.api.capture(self._stream, body)
        except Exception as exc:  # any failure: this engine stops trying, the compute goes on plainly
            self.enabled = False
            self._say("capture", logging.WARNING, "cuda_graph: capture failed (%s: %s); this engine runs "
                      "the plain loop from now on", type(exc).__name__, exc)
            return None
        self.captures += 1
        return _Entry(graph, spots)


def _bound(run, spots: dict[str, Any]):
    """A copy of ``run`` whose per-spot vectors are ``spots`` (what the captured body works on)."""
    import copy

    bound = copy.copy(run)
    for name, arr in spots.items():
        setattr(bound, name, arr)
    return bound
