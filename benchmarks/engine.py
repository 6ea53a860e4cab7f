"""Hologram engine benchmark (issue 3): ms per iteration and quality for GS, WGS, WGS-Kim and RAAR.

Usage::

    python benchmarks/engine.py [--quick] [--size 1024] [--backend all|numpy|cupy] [--precision single]
                                [--methods gs,wgs,wgs-kim,raar] [--problems rand50,rand200,grid10,star]
    holostim bench [same options]

``--quick`` (single precision, 2 timing repeats, 40-iteration curves) takes about a minute at 1024² on
the 2-core development machine; the full run (both precisions, 5 repeats, 100-iteration curves) a few
minutes. What the tables mean is in :mod:`holostim.holography.benchmark`.

Measured (see below for the numbers and the machine)
----------------------------------------------------
MEASUREMENTS
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from holostim.holography.benchmark import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
