"""The ``holostim`` command: dispatch, exit codes, one-line errors, progress."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from holostim import __version__, cli
from holostim.cli.defaults import PACKAGED_CONFIG, default_config
from holostim.config import load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"holostim {__version__}"


def test_check_config_valid_prints_the_resolved_session(capsys):
    path = ROOT / "config" / "rig-example.yaml"
    code, out, err = run(["check-config", str(path)], capsys)
    assert code == 0
    assert "valid" in err
    # What it prints is the resolved session, loadable as is.
    assert parse_config(out, base_dir=path.parent) == load_config(path)


def test_check_config_errors_exit_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("engine:\n  iterations: 20\n  methd: wgs\n")
    code, out, err = run(["check-config", str(bad)], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"holostim: error: {bad}:3: engine.methd: unknown key; did you mean 'method'?")
    # --verbose adds the traceback, before or after the command.
    for argv in (["-v", "check-config", str(bad)], ["check-config", str(bad), "--verbose"]):
        code, _, err = run(argv, capsys)
        assert code == 2 and "Traceback" in err and "ConfigError" in err
    code, _, err = run(["check-config", str(tmp_path / "missing.yaml")], capsys)
    assert code == 2 and "session file does not exist" in err


def test_exit_codes_through_python_m(tmp_path):
    """The real process: `python -m holostim` exits 0 / 2 and prints no traceback."""
    sim = str(ROOT / "config" / "simulation.yaml")
    good = subprocess.run([sys.executable, "-m", "holostim", "check-config", sim],
                          capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stderr
    (tmp_path / "bad.yaml").write_text("slm:\n  pitch_um: -1\n")
    bad = subprocess.run([sys.executable, "-m", "holostim", "check-config", str(tmp_path / "bad.yaml")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert "bad.yaml:2: slm.pitch_um" in bad.stderr
    usage = subprocess.run([sys.executable, "-m", "holostim", "no-such-command"],
                           capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2


def test_default_is_the_gui_on_the_simulation_session(monkeypatch, capsys):
    calls = []
    import holostim.gui.app as app

    monkeypatch.setattr(app, "run_gui", lambda path: calls.append(Path(path)) or 7)
    assert cli.main([]) == 7
    assert cli.main(["-v"]) == 7
    assert cli.main(["gui", "--config", "x.yaml"]) == 7
    assert calls == [default_config(), default_config(), Path("x.yaml")]
    assert calls[0] == ROOT / "config" / "simulation.yaml"
    assert PACKAGED_CONFIG == ROOT / "src" / "holostim" / "data" / "simulation.yaml"


def write_spots(path: Path, rows) -> Path:
    body = "\n".join(f"{x},{y},{w}" for x, y, w in rows)
    path.write_text("x_fourier_px,y_fourier_px,weight\n" + body + "\n")
    return path


def test_compute_one_and_a_batch(tmp_path, capsys):
    a = write_spots(tmp_path / "a.csv", [(10, 12, 1), (50, 40, 1)])
    b = write_spots(tmp_path / "b.csv", [(20, 45, 2), (40, 10, 1), (12, 30, 1)])
    out = tmp_path / "a.npy"
    common = ["--shape", "64", "64", "--backend", "numpy", "--iterations", "10"]
    code, stdout, _ = run(["compute", "--spots", str(a), "--out", str(out), *common], capsys)
    assert code == 0
    phase = np.load(out)
    assert phase.shape == (64, 64) and 0 <= phase.min() and phase.max() < 2 * np.pi
    assert "efficiency" in stdout and "10 iterations, 2 spots on 64x64" in stdout
    # Independent check: the saved mask puts its light on the two spots.
    far = np.abs(np.fft.fftshift(np.fft.fft2(np.exp(1j * phase)))) ** 2
    top2 = {tuple(int(v) for v in np.unravel_index(i, far.shape))[::-1] for i in np.argsort(far.ravel())[-2:]}
    assert top2 == {(10, 12), (50, 40)}

    folder = tmp_path / "masks"
    code, stdout, err = run(["compute", "--spots", str(a), str(b), "--out", str(folder), "--format", "png",
                             *common], capsys)
    assert code == 0
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png"]
    assert "compute [" in err and "2/2" in err  # progress
    assert stdout.count("efficiency") == 2

    code, _, err = run(["compute", "--spots", str(a), str(b), *common], capsys)
    assert code == 2 and "need --out FOLDER" in err
    nowhere = tmp_path / "no" / "dir" / "x.npy"
    code, _, err = run(["compute", "--spots", str(a), "--out", str(nowhere), *common], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_bench_passes_its_arguments_through(monkeypatch, capsys):
    import holostim.holography.benchmark as bench

    seen = []
    monkeypatch.setattr(bench, "main", lambda argv: seen.append(argv) or 0)
    assert cli.main(["bench", "--size", "64", "--quick"]) == 0
    assert cli.main(["-v", "bench", "--help"]) == 0
    assert seen == [["--size", "64", "--quick"], ["--help"]]


def test_slm_check_shows_through_a_camera_less_session(monkeypatch, capsys):
    import holostim.hardware.slm.opengl.check as slm_check
    from holostim.session import Session

    opened, seen = [], []

    class FakeSession:
        slm = object()

        def show_test_pattern(self, frame, name):  # the gate's way in
            raise AssertionError("not called by the stub")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            opened.append("closed")

    fake = FakeSession()
    monkeypatch.setattr("holostim.cli.slm.require_display", lambda what: None)
    monkeypatch.setattr(Session, "open",
                        classmethod(lambda cls, config, **kw: opened.append((config, kw)) or fake))
    monkeypatch.setattr(slm_check, "run_slm_check",
                        lambda slm, show, seconds=None: seen.append((slm, show, seconds)) or 1)
    path = ROOT / "config" / "rig-example.yaml"
    assert cli.main(["slm-check", "--config", str(path), "--seconds", "2.5"]) == 1
    assert opened == [(path, {"camera": False}), "closed"]
    (slm, show, seconds), = seen
    assert slm is fake.slm and show == fake.show_test_pattern and seconds == 2.5


def test_slm_check_on_the_simulation_session_is_a_clear_error(capsys):
    code, _, err = run(["slm-check"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "slm-check needs an OpenGL SLM" in err and "slm.backend is 'simulated'" in err


def test_calibrate_measures_saves_and_shows_progress(tmp_path, capsys):
    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    data["slm"]["shape"] = [128, 128]
    data["simulation"].update(shape=[128, 128], n_neurons=5)
    data["calibration"]["file"] = "cal.yaml"
    data["log"]["directory"] = "logs"
    session = tmp_path / "session.yaml"
    session.write_text(yaml.safe_dump(data))
    code, out, err = run(["calibrate", "--config", str(session), "--grid", "4"], capsys)
    assert code == 0, err
    assert (tmp_path / "cal.yaml").is_file()
    assert "residual" in out and str(tmp_path / "cal.yaml") in out
    last = err.strip().splitlines()[-1]
    assert last.startswith("calibrating (4x4 grid) [###") and re.search(r" (\d+)/\1 done$", last)
    from holostim.calibration import Calibration

    cal = Calibration.load(tmp_path / "cal.yaml")
    assert cal.residual_px < 0.5 and cal.n_spots >= 12
    # --out writes elsewhere.
    argv = ["calibrate", "--config", str(session), "--grid", "3", "--out", str(tmp_path / "o.yaml")]
    code, out, _ = run(argv, capsys)
    assert code == 0 and (tmp_path / "o.yaml").is_file()


@pytest.mark.parametrize("where", ["directory", "proc", "notes", "session's notes", "no file"])
def test_calibrate_refuses_an_unusable_output_before_measuring(tmp_path, capsys, monkeypatch, where):
    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    data["slm"]["shape"] = [128, 128]
    data["simulation"].update(shape=[128, 128], n_neurons=5)
    data["calibration"]["file"] = "cal.yaml"
    data["log"]["directory"] = "logs"
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    (tmp_path / "results").mkdir()
    out = {"directory": tmp_path / "results", "proc": Path("/proc/holostim-calibration.yaml"),
           "notes": notes}.get(where)
    if where == "no file":
        data["calibration"]["file"] = None
    session = tmp_path / "session.yaml"
    session.write_text(yaml.safe_dump(data))
    if where == "session's notes":  # valid when loaded, then the file is replaced by notes
        from holostim.config import load_config

        session_cfg = load_config(session)
        (tmp_path / "cal.yaml").write_text("my notes\n")
        monkeypatch.setattr("holostim.config.load_config", lambda path: session_cfg)
    argv = ["calibrate", "--config", str(session), "--grid", "3"] + (["--out", str(out)] if out else [])
    code, stdout, err = run(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and stdout == "", err
    expected = {"directory": "is a directory", "proc": "under /proc", "notes": "refusing to overwrite",
                "session's notes": "refusing to overwrite", "no file": "no calibration.file"}[where]
    assert expected in err, err
    assert notes.read_text() == "my notes\n"
    assert not (tmp_path / "logs").exists()  # no session opened: nothing shown on the SLM, nothing logged


def test_progress_lines_when_not_a_terminal():
    stream = io.StringIO()
    p = cli.Progress("work", stream=stream, width=10)
    for i in range(1, 4):
        p(i, 3, f"step {i}")
    lines = stream.getvalue().splitlines()
    assert lines == [
        "work [###.......] 1/3 step 1",
        "work [######....] 2/3 step 2",
        "work [##########] 3/3 step 3",
    ]


@pytest.mark.gui
def test_calibrate_on_an_opengl_rig_runs_beside_the_event_loop(qapp, tmp_path, capsys):
    """The real-rig path: Qt app, SLM window, calibration on a worker; a dark camera is a clear error."""
    pytest.importorskip("PyQt6.QtOpenGL")
    import tifffile

    tifffile.imwrite(tmp_path / "dark.tif", np.full((2, 96, 128), 100, np.uint16))
    g = qapp.primaryScreen().geometry()
    (tmp_path / "rig.yaml").write_text(yaml.safe_dump({
        "slm": {"backend": "opengl", "screen": f"{g.width()}x{g.height()}+{g.x()}+{g.y()}",
                "fullscreen": False, "shape": [128, 128], "settle_tau_ms": 0},
        "camera": {"backend": "replay", "path": "dark.tif"},
        "calibration": {"file": "cal.yaml"},
        "log": {"directory": "logs"},
    }))
    code, _, err = run(["calibrate", "--config", str(tmp_path / "rig.yaml"), "--grid", "3"], capsys)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("holostim: error: reference spot 1")
    assert "background frame" in err  # the first step ran: a frame reached the screen and was snapped
    assert not (tmp_path / "cal.yaml").exists()


@pytest.mark.gui
def test_run_beside_qt_events_returns_and_raises(qapp):
    from holostim.hardware.slm.opengl.qt_loop import run_beside_qt_events

    assert run_beside_qt_events(lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        run_beside_qt_events(lambda: 1 / 0)


def test_check_config_warns_when_the_power_calibration_stops_below_the_laser_power(tmp_path, capsys):
    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    data["calibration"]["file"] = str(tmp_path / "cal.yaml")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    code, _, err = run(["check-config", str(path)], capsys)
    assert code == 0 and "power_calibration" not in err  # the shipped table covers its laser
    data["daq"]["power_calibration"] = {"table": [[0, 0], [10, 1.5]]}
    path.write_text(yaml.safe_dump(data))
    code, _, err = run(["check-config", str(path)], capsys)
    assert code == 0 and "valid" in err
    assert "daq.power_calibration reaches 10.0 mW, below safety.laser_power_mw = 15" in err


def test_a_session_with_a_real_daq_is_not_a_simulated_rig():
    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    assert parse_config(yaml.safe_dump(data)).simulated
    data["daq"] = {"backend": "serial", "port": "/dev/ttyACM0"}
    assert not parse_config(yaml.safe_dump(data)).simulated
