"""Which session file a command uses when none is given: the simulation session.

From the source tree when there is one (``config/simulation.yaml``), else the copy installed with the
package (``holostim/data/simulation.yaml``), so an installed ``holostim`` opens the simulated rig too.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_CONFIG", "PACKAGED_CONFIG", "default_config"]

_PACKAGE = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = _PACKAGE.parent.parent / "config" / "simulation.yaml"  # src/holostim -> the repository
PACKAGED_CONFIG = _PACKAGE / "data" / "simulation.yaml"


def default_config() -> Path:
    """The simulation session: from the source tree, else the copy installed with the package."""
    if DEFAULT_CONFIG.exists():
        return DEFAULT_CONFIG
    return PACKAGED_CONFIG
