"""The session's side of the DAQ: the permit → gate wiring, interactive opening, and waiting for TTL in.

:class:`GateWiring` is a part of :class:`~holostim.session.Session` (a mixin, kept apart so the session's
click → SLM loop stays one readable file): the session owns the DAQ, its :class:`LaserGate`, the
permit keeper and the log; these methods are what ties them together. The gate's rules themselves are
in :mod:`holostim.session.laser_gate`, and nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from holostim.eventlog.records import trigger_record
from holostim.hardware.slm import FrameRecord
from holostim.safety import Verdict
from holostim.session.errors import SessionError
from holostim.session.frame_records import other_frame_maker
from holostim.session.laser_gate import NO_DAQ, GateError

if TYPE_CHECKING:
    from holostim.hardware.daq import DAQ
    from holostim.session.laser_gate import LaserGate

__all__ = ["GateWiring"]


class GateWiring:
    """The DAQ-facing methods of a session (see the module docstring)."""

    daq: DAQ | None
    laser_gate: LaserGate
    _keeper: Any
    config: Any

    def _on_permit(self, permitted: bool, reason: str) -> None:
        """The permit changed (told in order by the keeper): a lost permit closes the gate first, here."""
        if not permitted:
            self.laser_gate.close(f"laser permit lost: {reason}")
        else:
            self.laser_gate.wake()
        self._emit("permit", bool(permitted), str(reason))

    def _gate_log_failed(self, why: str) -> None:
        """A gate record was not durable: the laser is blocked (and so the gate stays closed)."""
        self._keeper.update(lambda p: p.fail(why))

    def wait_trigger(self, timeout_s: float, since: float | None = None) -> float | None:
        """Wait up to ``timeout_s`` for a TTL edge on the DAQ's ``trigger_in`` (at or after ``since``).

        Returns the edge's time (monotonic s) and logs a ``trigger`` record; ``None`` at the timeout
        (nothing logged). Not under the session lock: frames and the gate go on meanwhile.

        Raises
        ------
        GateError
            The session has no DAQ.
        """
        self._check_open()  # type: ignore[attr-defined]
        if self.daq is None:
            raise GateError(NO_DAQ.replace("the laser gate", "a trigger"))
        t = self.daq.trigger_in(timeout_s, since)
        if t is None:
            return None
        self._keeper.append(trigger_record(t))
        return float(t)

    def _open_gate_interactive(self, rec: FrameRecord, verdict: Verdict, context: dict) -> None:
        """A click or calibration frame with light: open the gate once it is swapped, settled, permitted.

        At the power the safety gate judged the frame with (where the DAQ has a power line). A protocol
        runner turns this off (``laser_gate.manual()``) and opens the gate per step itself.
        """
        if verdict.light:
            self.laser_gate.open_interactive(rec, verdict.laser_power_mw,
                                             self.config.slm.frame_period_ms / 1e3, context)

    def _show_calibration_frame(self, phase: np.ndarray, spots: np.ndarray, what: str) -> None:
        """Put one calibration frame (spots ``spots``) on the SLM through the gate and the log, lit.

        The ``show`` every calibration procedure (affine, power, depth) is given: judged and logged as a
        ``calibration`` frame, the gate opened for it as for a click, and a closed gate said as such.
        """
        rec, verdict, _ = self._show_frame("calibration",  # type: ignore[attr-defined]
                                           other_frame_maker("calibration", what, spots),
                                           phase=phase, targets_slm=spots)
        self._open_gate_interactive(rec, verdict, {"kind": "calibration", "name": what})
        self._check_calibration_light(rec, verdict, spots, what)

    def _check_calibration_light(self, rec: FrameRecord, verdict: Verdict, spots: np.ndarray,
                                 what: str) -> None:
        """Behind a closed gate the camera sees no calibration spot: say why, instead of "no spots found"."""
        if (self.daq is not None and len(spots) and rec.t_swapped is not None
                and not self.laser_gate.is_open):
            why = verdict.reason or self.permit_reason or "see the log's gate records"  # type: ignore[attr-defined]
            raise SessionError(f"calibration needs the laser, but the laser gate stayed closed for "
                               f"{what!r}: {why}")
