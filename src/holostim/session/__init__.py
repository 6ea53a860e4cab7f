"""One rig session: config → rig (:mod:`.build`), the click → SLM loop (:mod:`.session`), previews.

``Session`` is what the GUI and the CLI drive; ``Target`` and ``ApplyResult`` are what goes in and
comes out of its loop; the refusals it raises come from the safety gate (:mod:`holostim.safety`).
"""

from holostim.safety import SafetyError, TargetRefused
from holostim.session.errors import SessionError
from holostim.session.laser_gate import GateError, LaserGate
from holostim.session.result import ApplyResult, Target
from holostim.session.session import Session

__all__ = [
    "ApplyResult",
    "GateError",
    "LaserGate",
    "SafetyError",
    "Session",
    "SessionError",
    "Target",
    "TargetRefused",
]
