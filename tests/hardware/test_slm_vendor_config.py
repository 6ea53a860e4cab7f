"""The session keys of the vendor SLMs and the simulated LC model: bad values refused in one line, good
ones reaching the backends (the vendor SDKs as their C stand-ins, see ``slm_standins``)."""

from __future__ import annotations

import pytest
from slm_standins import Recorder, build

from holostim.config import ConfigError, SessionConfig, parse_config
from holostim.hardware.slm import SimulatedSLM
from holostim.hardware.slm.holoeye import HoloeyeSLM
from holostim.hardware.slm.meadowlark import MeadowlarkSLM


@pytest.mark.parametrize(("text", "message"), [
    ("slm:\n  meadowlark:\n    model: usb\n", r"s.yaml:3: slm.meadowlark.model: 'usb' is not allowed; use"),
    ("slm:\n  meadowlark:\n    board: 0\n", "s.yaml:3: slm.meadowlark.board: .*greater than or equal to 1"),
    ("slm:\n  meadowlark:\n    trigger_timeout_ms: 0\n", "slm.meadowlark.trigger_timeout_ms"),
    ("slm:\n  meadowlark:\n    lut_file: missing.lut\n", "slm.meadowlark.lut_file: file .*missing.lut'"),
    ("slm:\n  meadowlark:\n    wait_for_trigger: 2\n", "slm.meadowlark.wait_for_trigger"),
    ("slm:\n  holoeye:\n    wavefront_file: nope.h5\n", "slm.holoeye.wavefront_file: file .*nope.h5'"),
    ("slm:\n  holoeye:\n    sdk: /x\n", "slm.holoeye.sdk: unknown key; did you mean 'sdk_path'"),
    ("slm:\n  simulated:\n    tau_table: [[1.0, 5], [0.5, 5]]\n", "slm.simulated.tau_table: the retardances"),
    ("slm:\n  simulated:\n    tau_table: [[1.0, 0]]\n", "slm.simulated.tau_table"),
    ("slm:\n  simulated:\n    tau_table: []\n", "at least one"),
    ("slm:\n  simulated:\n    overdriv: true\n", "did you mean 'overdrive'"),
])
def test_bad_values_are_one_line(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(text, file="s.yaml")


def test_the_simulated_model_keys_reach_the_panel():
    cfg = parse_config("slm:\n  two_pi_gray: 200\n  settle_tau_ms: 10\n  simulated:\n    overdrive: true\n"
                       "    phase_change_reduction: true\n    tau_table: [[0, 20], [6.3, 5]]\n",
                       file="s.yaml")
    slm = SimulatedSLM.from_config(cfg.slm)
    assert slm.overdrive and slm.phase_change_reduction
    assert slm.response.tau_table == ((0.0, 20.0), (6.3, 5.0))
    assert slm.settle_time_s(3) != pytest.approx(0.030)
    plain = SimulatedSLM.from_config(SessionConfig().slm)
    assert not plain.overdrive and plain.settle_time_s(3) == pytest.approx(0.030)


def test_meadowlark_and_holoeye_from_the_session_section(tmp_path):
    blink = build(tmp_path, "blink_pcie.c", "libBlink_C_wrapper.so")
    rec = Recorder(blink)
    lut = tmp_path / "slm.lut"
    lut.write_text("0 0\n")
    cfg = parse_config(f"slm:\n  shape: [48, 64]\n  meadowlark:\n    sdk_path: {blink}\n    lut_file: {lut}\n"
                       "    wait_for_trigger: true\n    trigger_timeout_ms: 250\n", file="s.yaml")
    slm = MeadowlarkSLM.from_config(cfg.slm)
    assert slm.name == "meadowlark" and slm.wait_for_trigger and slm.trigger_timeout_ms == 250
    assert f"Load_LUT_file board=1 file={lut}" in rec.calls()
    assert slm.describe()["device_lut"] == f"Meadowlark LUT {lut}"
    slm.close()
    heds = build(tmp_path, "heds.c", "holoeye_slmdisplaysdk.so")
    cfg = parse_config(f"slm:\n  shape: [48, 64]\n  pitch_um: 8\n  holoeye:\n    sdk_path: {tmp_path}\n",
                       file="s.yaml")
    h = HoloeyeSLM.from_config(cfg.slm)
    assert h.name == "holoeye" and h.shape == (48, 64)
    assert Recorder(heds).names()[0] == "heds_requires_version"
    h.close()
