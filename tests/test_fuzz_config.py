"""Table-driven fuzzing of session files through ``holostim check-config`` (issue #12).

Every case is a session file (and the files it names) that must be refused with one line naming the key
(and ``file:line`` where the YAML has one), exit status 2, no traceback, no hang. The classes: YAML
syntax (control characters, aliases, duplicate keys), types (bools and sexagesimal numbers are not
numbers, NaN/inf), bounds, files named by the session (flatness, LUT, calibration) and device
combinations the session refuses.

Run as a script (``python tests/test_fuzz_config.py [ROOT]``) it counts, through a real
``python -m holostim check-config`` process per case with a time limit, how the holostim tree at ROOT
(default: this one) answers: clear errors, tracebacks, hangs, silently valid, other errors.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SESSION = "session.yaml"


def _png(width: int, height: int, data: bytes | None = None) -> bytes:
    """A gray 8-bit PNG whose header says ``width`` × ``height``; ``data`` none: a tiny bogus IDAT."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = data if data is not None else b"\x00" * 16
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _gray_png(height: int, width: int) -> bytes:
    rows = b"".join(b"\x00" + bytes(width) for _ in range(height))
    return _png(width, height, rows)


def _calibration(**change: object) -> bytes:
    """A calibration file for the default simulated session, with ``change`` applied (dotted keys)."""
    import yaml

    from holostim.config import SessionConfig

    data: dict = {
        "format": "holostim-calibration", "version": 1, "date": "2026-01-01T00:00:00+00:00",
        "slm": {"id": "simulated", "shape": [512, 512]},
        "camera": {"id": SessionConfig().simulated_camera_kwargs()["name"], "shape": [512, 512]},
        "camera_to_slm": [[0.5, 0.01, 120.0], [-0.01, 0.5, 130.0]],
        "residual_px": 0.2, "n_spots": 24,
    }
    for key, value in change.items():
        node = data
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        node[last] = value
    return yaml.safe_dump(data).encode()


CAL_SESSION = "calibration:\n  file: cal.yaml\n  auto_in_simulation: false\n"
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n" for p, k in zip("abcdefgh", "bcdefghi", strict=True)
)


@dataclass(frozen=True)
class Case:
    """A session that must be refused: ``key`` must appear in the one line, and ``:line`` if given."""

    id: str
    yaml: str | bytes
    key: str
    line: int | None = None
    files: dict[str, bytes | Callable[[], bytes]] = field(default_factory=dict)
    also: tuple[str, ...] = ()


CASES = [
    # ---------------------------------------------------------------- YAML syntax
    Case("nul-character", b"name: a\x00b\n", "", 1, also=("control character",)),
    Case("bell-character", b"safety:\n  max_spots: 3\x07\n", "", 2, also=("control character",)),
    Case("invalid-utf8", b"name: \xff\xfe\n", "", None, also=("UTF-8",)),
    Case("billion-laughs", LAUGHS, "", 2, also=("alias",)),
    Case("recursive-alias", "x: &a [*a]\n", "", 1, also=("alias",)),
    Case("plain-alias", "slm:\n  shape: &s [512, 512]\nsimulation:\n  shape: *s\n", "", 4, also=("alias",)),
    Case("merge-key", "a: &b {x: 1}\nslm:\n  <<: *b\n", "", 3, also=("alias",)),
    Case("duplicate-section", "safety:\n  max_spots: 10\nname: x\nsafety:\n  max_spots: 100000\n",
         "safety", 4, also=("duplicate", "line 1")),
    Case("duplicate-key", "slm:\n  shape: [512, 512]\n  shape: [64, 64]\n", "slm.shape", 3,
         also=("duplicate", "line 2")),
    Case("unclosed-bracket", "slm:\n  shape: [512, 512\n", "", None, also=("YAML syntax",)),
    Case("tab-indent", "slm:\n\tshape: [512, 512]\n", "", 2, also=("YAML",)),
    Case("python-tag", "name: !!python/object/apply:os.system [echo]\n", "", 1, also=("YAML",)),
    Case("not-a-mapping", "- slm\n- camera\n", "", 1, also=("mapping",)),
    # ---------------------------------------------------------------- types
    Case("bool-as-int", "safety:\n  max_spots: true\n", "safety.max_spots", 2),
    Case("bool-as-float", "slm:\n  pitch_um: true\n", "slm.pitch_um", 2),
    Case("bool-in-shape", "slm:\n  shape: [true, 512]\n", "slm.shape", 2),
    Case("bool-as-version", "version: true\n", "version", 1),
    Case("sexagesimal-int", "slm:\n  refresh_hz: 1:30\n", "slm.refresh_hz", 2),
    Case("sexagesimal-float", "slm:\n  refresh_hz: 1:30.5\n", "slm.refresh_hz", 2),
    Case("sexagesimal-iterations", "engine:\n  iterations: 1:40\n", "engine.iterations", 2),
    Case("float-iterations", "engine:\n  iterations: 20.5\n", "engine.iterations", 2),
    Case("nan-rotation", "simulation:\n  ground_truth:\n    rotation_deg: .nan\n",
         "simulation.ground_truth.rotation_deg", 3),
    Case("inf-rotation", "simulation:\n  ground_truth:\n    rotation_deg: -.inf\n",
         "simulation.ground_truth.rotation_deg", 3),
    Case("nan-string", "simulation:\n  ground_truth:\n    shear: 'nan'\n", "simulation.ground_truth.shear",
         3),
    Case("nan-blaze", "slm:\n  blaze: [.nan, 0]\n", "slm.blaze.0", 2),
    Case("inf-offset", "simulation:\n  ground_truth:\n    offset_px: [.inf, 0]\n",
         "simulation.ground_truth.offset_px.0", 3),
    Case("nan-zernike", "slm:\n  zernike: {4: .nan}\n", "slm.zernike.4", 2),
    Case("inf-power", "safety:\n  laser_power_mw: .inf\n", "safety.laser_power_mw", 2),
    Case("nan-fresnel", "slm:\n  fresnel_focal_um: .nan\n", "slm.fresnel_focal_um", 2),
    Case("nan-tolerance", "engine:\n  tolerance: .nan\n", "engine.tolerance", 2),
    # ---------------------------------------------------------------- bounds
    Case("interlock-frames-1e9", "safety:\n  interlock_frames: 1e9\n", "safety.interlock_frames", 2),
    Case("interlock-ms-1e12", "safety:\n  interlock_ms: 1e12\n", "safety.interlock_ms", 2),
    Case("slm-shape-huge", "slm:\n  shape: [100000, 100000]\n", "slm.shape", 2),
    Case("camera-shape-huge", "simulation:\n  shape: [100000, 100000]\n", "simulation.shape", 2),
    Case("iterations-huge", "engine:\n  iterations: 1000000000\n", "engine.iterations", 2),
    Case("neurons-that-never-fit", "simulation:\n  n_neurons: 100000\n", "simulation.n_neurons", 2,
         also=("do not fit",)),
    Case("neuron-density-that-never-fits", "simulation:\n  n_neurons: null\n  neuron_density: 1000\n",
         "simulation.neuron_density", 3, also=("do not fit",)),
    Case("two-pi-gray-for-another-wavelength", "slm:\n  two_pi_gray: {0.5: 200}\n", "slm.two_pi_gray", 2,
         also=("wavelength",)),
    Case("two-pi-gray-scaled-past-256", "slm:\n  two_pi_gray_wavelength_um: 0.3\n", "slm.two_pi_gray", None,
         also=("2..256",)),
    Case("negative-pitch", "slm:\n  pitch_um: -1\n", "slm.pitch_um", 2),
    # ---------------------------------------------------------------- files named by the session
    Case("flatness-bomb", "slm:\n  flatness: flat.png\n", "slm.flatness", 2,
         {"flat.png": lambda: _png(30000, 30000)}),
    Case("flatness-wrong-size", "slm:\n  flatness: flat.png\n", "slm.flatness", 2,
         {"flat.png": lambda: _gray_png(64, 64)}),
    Case("flatness-garbage", "slm:\n  flatness: flat.png\n", "slm.flatness", 2,
         {"flat.png": lambda: b"\x00\x01garbage" * 50}),
    Case("lut-binary", "slm:\n  lut: slm.lut\n", "slm.lut", 2, {"slm.lut": lambda: bytes(range(256)) * 4}),
    Case("calibration-binary", CAL_SESSION, "calibration.file", 2,
         {"cal.yaml": lambda: bytes(range(256)) * 4}),
    Case("calibration-not-one", CAL_SESSION, "calibration.file", 2,
         {"cal.yaml": lambda: b"dear diary, today I aligned the laser\n"},
         also=("not a holostim calibration",)),
    Case("calibration-nan-residual", CAL_SESSION, "calibration.file", 2,
         {"cal.yaml": lambda: _calibration(residual_px=float("nan"))}, also=("residual",)),
    Case("calibration-huge-residual", CAL_SESSION, "calibration.file", 2,
         {"cal.yaml": lambda: _calibration(residual_px=1e6)}, also=("residual",)),
    Case("calibration-mirrored", CAL_SESSION, "calibration.file", 2,
         {"cal.yaml": lambda: _calibration(camera_to_slm=[[-0.5, 0.01, 380.0], [0.01, 0.5, 130.0]])},
         also=("mirror",)),
    Case("calibration-other-camera", CAL_SESSION, "calibration.file", 2,
         {"cal.yaml": lambda: _calibration(**{"camera.id": "simulated-0000000000"})}, also=("camera",)),
    Case("calibration-other-slm-shape", CAL_SESSION, "calibration.file", 2,
         {"cal.yaml": lambda: _calibration(**{"slm.shape": [1024, 1024]})}, also=("shape",)),
    Case("calibration-billion-laughs", CAL_SESSION, "calibration.file", 2,
         {"cal.yaml": lambda: LAUGHS.encode()}, also=("alias",)),
    Case("calibration-control-character", CAL_SESSION, "calibration.file", 2,
         {"cal.yaml": lambda: _calibration().replace(b"format", b"for\x07mat")}),
    Case("calibration-directory", "calibration:\n  file: caldir\n", "calibration.file", 2,
         {"caldir/keep": lambda: b""}, also=("directory",)),
    Case("calibration-proc", "calibration:\n  file: /proc/holostim-calibration.yaml\n", "calibration.file",
         2),
    Case("calibration-victim", "calibration:\n  file: victim.txt\n", "calibration.file", 2,
         {"victim.txt": lambda: b"my thesis, chapter 3\n"}, also=("not a holostim calibration",)),
    Case("target-weights-1e-300", "targets:\n  - {x: 10, y: 10, weight: 1.0e-300}\n  - {x: 40, y: 20}\n",
         "targets", None, also=("differ by more than",)),
    # ---------------------------------------------------------------- combinations
    Case("opengl-with-simulated-camera", "slm:\n  backend: opengl\n", "camera.backend", None,
         also=("simulated",)),
]


def _write(case: Case, folder: Path) -> Path:
    for name, content in case.files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content() if callable(content) else content)
    session = folder / SESSION
    session.write_bytes(case.yaml.encode() if isinstance(case.yaml, str) else case.yaml)
    return session


def _clear(case: Case, session: Path, rc: int, err: str) -> bool:
    """True when the answer is the one wanted: exit 2, one line, the file (and line) and the key named."""
    lines = err.strip().splitlines()
    if rc != 2 or len(lines) != 1 or "Traceback" in err:
        return False
    where = f"{session}:{case.line}:" if case.line else str(session)
    return where in lines[0] and f" {case.key}:" in lines[0] if case.key else where in lines[0]


def _also(case: Case, err: str) -> list[str]:
    return [s for s in case.also if s.lower() not in err.lower()]


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


@pytest.mark.timeout(20)  # a guard against hangs only; the assertions are about the answer
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_check_config_refuses_with_one_line(case, tmp_path, capsys):
    from holostim import cli

    session = _write(case, tmp_path)
    rc = cli.main(["check-config", str(session)])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "", err
    assert _clear(case, session, rc, err), err
    assert not _also(case, err), err


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case_id", ["nul-character", "billion-laughs", "recursive-alias"])
def test_the_real_process_answers_in_one_line(case_id, tmp_path):
    """The cases that were a traceback or a hang, through ``python -m holostim``: exit 2, one line."""
    found = count(Path(__file__).resolve().parent.parent, timeout_s=60.0,
                  cases=[c for c in CASES if c.id == case_id])
    assert found["clear"] == [case_id], found


def count(root: Path, timeout_s: float = 10.0, cases: list[Case] | None = None) -> dict[str, list[str]]:
    """Run every case through ``python -m holostim check-config`` of the tree at ``root``; classify."""
    import os
    import resource
    import subprocess
    import tempfile

    def limit_memory() -> None:  # a bomb must not take the (shared) machine with it
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    env = {**os.environ, "PYTHONPATH": str(root), "HOLOSTIM_THREADS": "1"}
    found: dict[str, list[str]] = {k: [] for k in ("clear", "unclear", "traceback", "hang", "valid")}
    for case in CASES if cases is None else cases:
        with tempfile.TemporaryDirectory() as tmp:
            session = _write(case, Path(tmp))
            try:
                p = subprocess.run([sys.executable, "-m", "holostim", "check-config", str(session)],
                                   capture_output=True, text=True, timeout=timeout_s, env=env,
                                   preexec_fn=limit_memory, cwd=root)
            except subprocess.TimeoutExpired:
                found["hang"].append(case.id)
                continue
        if p.returncode == 0:
            kind = "valid"
        elif "Traceback" in p.stderr or p.returncode != 2:
            kind = "traceback"
        elif _clear(case, session, p.returncode, p.stderr) and not _also(case, p.stderr):
            kind = "clear"
        else:
            kind = "unclear"
        found[kind].append(case.id)
    return found


if __name__ == "__main__":
    tree = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    result = count(tree)
    print(f"{len(CASES)} cases against {tree}")
    for kind, ids in result.items():
        print(f"{kind:<10} {len(ids):>3}  {' '.join(ids)}")
