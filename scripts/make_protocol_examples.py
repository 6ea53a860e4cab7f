"""Write the target files of the shipped example protocols from the simulated rig's real neurons.

    PYTHONPATH=src python scripts/make_protocol_examples.py [CONFIG_DIR]

Opens ``config/simulation.yaml`` once (its log and calibration go to a temporary folder, so nothing in
the user's home changes), takes the simulated camera's soma centres, keeps the ones the session accepts
as targets with a margin (``check_target`` passes at the centre and ``MARGIN_PX`` around it, so a
slightly different calibration does not make an example target fail), and writes

- ``ensembles-targets.csv``: 10 ensembles (groups 1–10) of 5 cells. The simulated field has only about
  35 usable neurons, too few for 50 distinct cells, so 25 cells are laid out on an abstract 5 × 5 array:
  ensembles 1–5 are its rows, 6–10 its columns. Every cell is in exactly two ensembles and two ensembles
  share at most one cell, so each cell's response can be told apart from its partners' (a group-testing
  design). Rows are numbered 1–50 (ids); a cell appears twice, once per ensemble.
- ``single-cells-targets.csv``: 20 cells, ids 1–20, for sequential single-cell mapping.

Cells are chosen well apart (greedy farthest point; the ensemble layout maximises the smallest distance
between two cells of one ensemble), so every pattern's spots are resolved and no pattern is favoured.
The choice is deterministic: the same simulation seed gives the same files.
"""

from __future__ import annotations

import sys
import tempfile
from itertools import combinations
from pathlib import Path

import numpy as np

from holostim.config import load_config
from holostim.session import Session, Target
from holostim.session.target_files import save_targets

ROOT = Path(__file__).resolve().parent.parent
MARGIN_PX = 10.0
N_ENSEMBLE_CELLS, SIDE = 25, 5
N_SINGLE = 20


def usable_cells(session: Session) -> np.ndarray:
    """Soma centres ``(x, y)`` the session accepts as targets, with :data:`MARGIN_PX` around each."""
    offsets = [(0, 0), (MARGIN_PX, 0), (-MARGIN_PX, 0), (0, MARGIN_PX), (0, -MARGIN_PX)]
    keep = [(float(x), float(y)) for x, y in session.camera.neuron_positions
            if all(session.check_target(x + dx, y + dy) is None for dx, dy in offsets)]
    return np.array(keep)


def farthest_points(points: np.ndarray, n: int) -> np.ndarray:
    """``n`` of ``points``, each next one the farthest from those chosen (start: nearest the centre)."""
    centre = points.mean(axis=0)
    chosen = [int(np.argmin(np.linalg.norm(points - centre, axis=1)))]
    dist = np.linalg.norm(points - points[chosen[0]], axis=1)
    while len(chosen) < n:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(points - points[nxt], axis=1))
    return points[chosen]


def _ensembles(order: np.ndarray) -> list[np.ndarray]:
    grid = order.reshape(SIDE, SIDE)
    return [grid[r] for r in range(SIDE)] + [grid[:, c] for c in range(SIDE)]


def _worst_gap(cells: np.ndarray, order: np.ndarray) -> float:
    return min(float(np.linalg.norm(cells[a] - cells[b]))
               for ens in _ensembles(order) for a, b in combinations(ens, 2))


def ensemble_layout(cells: np.ndarray, seed: int = 0, rounds: int = 20000) -> np.ndarray:
    """A placement of the cells on the 5 × 5 array that keeps cells of one ensemble far apart (swaps)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(cells))
    best = _worst_gap(cells, order)
    for _ in range(rounds):
        i, j = rng.choice(len(cells), size=2, replace=False)
        order[i], order[j] = order[j], order[i]
        gap = _worst_gap(cells, order)
        if gap >= best:
            best = gap
        else:
            order[i], order[j] = order[j], order[i]
    return order


def main(out_dir: Path) -> None:
    """Write both target files into ``out_dir``."""
    cfg = load_config(ROOT / "config" / "simulation.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = cfg.model_copy(update={
            "log": cfg.log.model_copy(update={"directory": Path(tmp) / "logs"}),
            "calibration": cfg.calibration.model_copy(update={"file": Path(tmp) / "calibration.yaml"}),
        })
        with Session.open(cfg) as session:
            cells = usable_cells(session)
    print(f"{len(cells)} usable neurons")
    ens_cells = farthest_points(cells, N_ENSEMBLE_CELLS)
    order = ensemble_layout(ens_cells)
    rows = []
    for g, members in enumerate(_ensembles(order), start=1):
        rows += [Target(x=round(float(ens_cells[k][0]), 2), y=round(float(ens_cells[k][1]), 2), group=g,
                        id=len(rows) + 1 + i) for i, k in enumerate(members)]
    save_targets(out_dir / "ensembles-targets.csv", rows)
    print(f"ensembles: smallest distance within an ensemble {_worst_gap(ens_cells, order):.1f} px")
    singles = farthest_points(cells, N_SINGLE)
    save_targets(out_dir / "single-cells-targets.csv",
                 [Target(x=round(float(x), 2), y=round(float(y), 2), id=i)
                  for i, (x, y) in enumerate(singles, start=1)])


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "config")
