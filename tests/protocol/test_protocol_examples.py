"""The shipped example protocols load, resolve against their target files, and hit real simulated neurons."""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from holostim.config import load_config
from holostim.protocol import expand, load_protocol, resolve_patterns

ROOT = Path(__file__).resolve().parent.parent.parent
CONFIG = ROOT / "config"
EXAMPLES = {"ensembles": CONFIG / "protocol-ensembles.yaml",
            "single-cells": CONFIG / "protocol-single-cells.yaml"}


def _resolved(name: str):
    protocol = load_protocol(EXAMPLES[name])
    return protocol, resolve_patterns(protocol)  # from their CSV files: no session needed


def _cells(patterns) -> set[tuple[float, float]]:
    return {(t.x, t.y) for p in patterns.values() for t in p.targets}


def test_the_ensemble_example_is_ten_ensembles_of_five_cells_ten_trials_random():
    protocol, patterns = _resolved("ensembles")
    assert len(patterns) == 10 and all(len(p.targets) == 5 for p in patterns.values())
    assert sorted(t.group for p in patterns.values() for t in p.targets) == sorted(list(range(1, 11)) * 5)
    s = protocol.schedule
    assert (s.repetitions, s.order, s.trigger) == (10, "random", "timer") and s.seed is not None
    plan = expand(s)
    assert len(plan.steps) == 100 and plan.seed == s.seed
    assert plan.trial_order(0) != plan.trial_order(1)
    # The design the file's header describes: 25 cells, each in exactly two ensembles, two ensembles
    # sharing at most one cell.
    members = {name: {(t.x, t.y) for t in p.targets} for name, p in patterns.items()}
    assert len(_cells(patterns)) == 25
    assert set(Counter(c for m in members.values() for c in m).values()) == {2}
    assert all(len(a & b) <= 1 for a, b in combinations(members.values(), 2))


def test_the_single_cell_example_is_one_pattern_per_cell_in_a_fixed_order():
    protocol, patterns = _resolved("single-cells")
    assert len(patterns) == 20 and all(len(p.targets) == 1 for p in patterns.values())
    assert len(_cells(patterns)) == 20
    assert [p.targets[0].id for p in patterns.values()] == list(range(1, 21))
    plan = expand(protocol.schedule)
    assert plan.seed is None and plan.trial_order(0) == [f"cell{i:02d}" for i in range(1, 21)]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_cells_are_well_apart_and_powers_fit_the_simulated_laser(name):
    protocol, patterns = _resolved(name)
    session = load_config(CONFIG / "simulation.yaml")
    radius = session.simulation.neuron_radius_px
    for p in patterns.values():
        xy = np.array([(t.x, t.y) for t in p.targets])
        gaps = [np.linalg.norm(a - b) for a, b in combinations(xy, 2)]
        assert min(gaps, default=np.inf) > 8 * radius, p.name  # spots far apart: no pattern favoured
        assert p.power_mw_per_spot is not None and p.power_mw_per_spot <= session.safety.max_power_per_spot_mw
        # The light the pattern needs, at a diffraction efficiency as low as 0.8, within the laser's power.
        assert len(p.targets) * p.power_mw_per_spot / 0.8 <= session.safety.laser_power_mw, p.name
    # Every step uses its pattern's power (none overrides it in the examples).
    assert all(s.power_mw_per_spot is None for s in protocol.schedule.steps)


def test_a_saved_example_loads_back_identical(tmp_path):
    for path in EXAMPLES.values():
        protocol = load_protocol(path)
        assert load_protocol(protocol.save(tmp_path / path.name)) == protocol


@pytest.mark.slow
def test_every_example_target_is_a_simulated_neuron_the_session_accepts(tmp_path):
    from holostim.session import Session

    cfg = load_config(CONFIG / "simulation.yaml")
    cfg = cfg.model_copy(update={  # its log and calibration in tmp_path: nothing in the user's home changes
        "log": cfg.log.model_copy(update={"directory": tmp_path / "logs"}),
        "calibration": cfg.calibration.model_copy(update={"file": tmp_path / "calibration.yaml"}),
    })
    targets = {(t.x, t.y) for name in EXAMPLES for t in _cells_of(name)}
    with Session.open(cfg) as session:
        somas = np.asarray(session.camera.neuron_positions)
        refused = {xy: session.check_target(*xy) for xy in targets if session.check_target(*xy) is not None}
    assert not refused, refused
    for xy in targets:
        assert np.min(np.linalg.norm(somas - np.array(xy), axis=1)) < 0.1, xy  # on a soma centre


def _cells_of(name: str):
    _, patterns = _resolved(name)
    return [t for p in patterns.values() for t in p.targets]
