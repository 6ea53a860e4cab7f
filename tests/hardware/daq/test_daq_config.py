"""The session's ``daq`` section: none by default, one model per backend, errors with file:line:key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from holostim.config import ConfigError, SessionConfig, load_config
from holostim.hardware import registry
from holostim.hardware.daq import PowerCalibration, open_daq


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text, "bad.yaml"))
    assert "\n" not in str(info.value)
    return info.value


def test_no_daq_by_default_and_none_means_none(tmp_path):
    assert SessionConfig().daq is None
    assert load_config(write(tmp_path, "name: x\n")).daq is None
    assert load_config(write(tmp_path, "daq: null\n")).daq is None
    assert load_config(write(tmp_path, "daq:\n  backend: none\n")).daq is None
    assert SessionConfig().to_dict()["daq"] is None


def test_every_registered_backend_has_a_section():
    from holostim.config.daq import DAQ_SECTIONS

    assert set(DAQ_SECTIONS) == set(registry.names("daq")) == {"simulated", "serial", "nidaqmx"}
    for name, model in DAQ_SECTIONS.items():
        assert issubclass(model, registry.backend_class("daq", name).Options)


def test_round_trip_and_open(tmp_path):
    path = write(tmp_path, """\
        daq:
          backend: simulated
          swap_pulse_ms: 0.5
          power_calibration:
            table: [[0, 0.0], [10, 1.0], [40, 2.5]]
        """)
    cfg = load_config(path)
    assert cfg.daq.backend == "simulated" and cfg.daq.swap_pulse_ms == 0.5
    saved = cfg.save(tmp_path / "again.yaml")
    again = load_config(saved)
    assert again == cfg
    assert list(again.to_dict()["daq"])[0] == "backend"
    options = cfg.daq.options()
    assert isinstance(options["power_calibration"], PowerCalibration)
    with open_daq(cfg.daq.backend, **options) as daq:
        assert daq.set_power_mw(25) == pytest.approx(1.75)

    serial = load_config(write(tmp_path, "daq:\n  backend: serial\n  port: /dev/ttyACM0\n"))
    assert serial.daq.port == "/dev/ttyACM0" and serial.daq.heartbeat_ms == 20
    assert load_config(serial.save(tmp_path / "serial.yaml")) == serial
    bad = problems_of(tmp_path, "daq:\n  backend: nidaqmx\n  gate_line: a\n  ao_min_v: 5\n  ao_max_v: 1\n")
    assert "ao_min_v (5.0) must be below ao_max_v (1.0)" in str(bad)
    ni = load_config(write(tmp_path, "daq:\n  backend: nidaqmx\n  gate_line: Dev1/port0/line0\n"))
    assert ni.daq.gate_line == "Dev1/port0/line0" and ni.daq.power_line is None


def test_unknown_backend_suggests(tmp_path):
    err = problems_of(tmp_path, "name: x\ndaq:\n  backend: seriall\n  port: COM3\n")
    (file, line, key, msg), = err.problems
    assert file.endswith("bad.yaml") and line == 3 and key == "daq.backend"
    assert "unknown daq backend 'seriall'" in msg and "did you mean 'serial'" in msg


def test_missing_backend(tmp_path):
    err = problems_of(tmp_path, "daq:\n  port: COM3\n")
    (_, line, key, msg), = err.problems
    assert key == "daq.backend" and "needs a backend" in msg


def test_unknown_key_of_a_backend_names_line_and_suggests(tmp_path):
    err = problems_of(tmp_path, "daq:\n  backend: serial\n  port: COM3\n  heartbeat: 10\n")
    (file, line, key, msg), = err.problems
    assert (line, key) == (4, "daq.heartbeat")
    assert "did you mean 'heartbeat_ms'" in msg
    assert str(err).startswith(f"{tmp_path / 'bad.yaml'}:4: daq.heartbeat: unknown key")


def test_required_key_and_bad_values(tmp_path):
    err = problems_of(tmp_path, "daq:\n  backend: serial\n")
    assert [(p[2], p[3]) for p in err.problems] == [("daq.port", "required key is missing")]
    err = problems_of(tmp_path, "daq:\n  backend: simulated\n  swap_pulse_ms: true\n")
    assert err.problems[0][1:3] == (3, "daq.swap_pulse_ms")


def test_bad_power_calibration_names_its_key(tmp_path):
    err = problems_of(tmp_path, """\
        daq:
          backend: simulated
          power_calibration:
            table: [[0, 0.0], [10, 1.0], [20, 0.5]]
        """)
    (_, line, key, msg), = err.problems
    assert key == "daq.power_calibration" and line == 4  # where its value starts
    assert "strictly monotonic" in msg


def test_a_serial_section_opens_the_board(tmp_path):
    pytest.importorskip("serial")
    from holostim.hardware.daq.emulator import FirmwareEmulator

    with FirmwareEmulator() as fw:
        cfg = load_config(write(tmp_path, f"daq:\n  backend: serial\n  port: {fw.port}\n  boot_s: 1\n"))
        with open_daq(cfg.daq.backend, **cfg.daq.options()) as daq:
            daq.open_gate()
            assert fw.lines["gate_out"] is True
        assert fw.lines["gate_out"] is False
