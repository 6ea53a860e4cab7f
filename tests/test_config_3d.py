"""The session keys of 3-D targets: optics.medium_index and defocus_model, engine.spot_algorithm."""

from __future__ import annotations

import pytest

from holostim.config import parse_config
from holostim.errors import HolostimError
from holostim.holography.defocus import DefocusModel


def test_defaults_keep_sessions_valid_and_build_a_high_na_model():
    cfg = parse_config("name: s\n")
    assert cfg.optics.medium_index is None and cfg.optics.index == 1.33
    assert cfg.optics.defocus_model == "high_na" and cfg.engine.spot_algorithm == "auto"
    kw = cfg.engine_kwargs()
    assert kw["spot_algorithm"] == "auto"
    m = kw["defocus"]
    assert isinstance(m, DefocusModel) and m.model == "high_na"
    got = (m.wavelength_um, m.focal_length_um, m.magnification, m.pitch_um, m.objective_na, m.medium_index)
    assert got == (cfg.slm.wavelength_um, cfg.optics.focal_length_um, cfg.optics.magnification,
                   cfg.slm.pitch_um, cfg.optics.objective_na, 1.33)


def test_an_oil_objective_without_a_medium_index_stays_valid_but_has_no_depths():
    cfg = parse_config("optics:\n  objective_na: 1.4\n")
    assert cfg.defocus_model() is None
    oil = parse_config("optics:\n  objective_na: 1.4\n  medium_index: 1.518\n  defocus_model: paraxial\n")
    assert oil.defocus_model().medium_index == 1.518 and oil.defocus_model().model == "paraxial"


@pytest.mark.parametrize("text,match", [
    ("optics:\n  objective_na: 1.4\n  medium_index: 1.33\n",
     "objective_na 1.4 must be below medium_index 1.33"),
    ("optics:\n  medium_index: 0.5\n", "medium_index"),
    ("optics:\n  medium_index: 2.5\n", "medium_index"),
    ("optics:\n  defocus_model: thin\n", "defocus_model"),
    ("engine:\n  spot_algorithm: gpu\n", "spot_algorithm"),
])
def test_bad_values_are_refused_with_the_key(text, match):
    with pytest.raises(HolostimError, match=match):
        parse_config(text, file="s.yaml")
