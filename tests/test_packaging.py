"""Packaging: the PyInstaller spec and the desktop entry are valid and point at files that exist.

Nothing is built (PyInstaller takes minutes and is not a test dependency): the spec is executed with
stand-ins for the names PyInstaller injects, which records what it would have been asked to bundle.
"""

from __future__ import annotations

import configparser
import glob
import importlib.util
import os
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "holostim.spec"
DESKTOP = ROOT / "packaging" / "holostim.desktop"


class _Recorder:
    """Stands in for Analysis/PYZ/EXE/COLLECT and remembers its arguments."""

    calls: dict[str, list] = {}

    def __init__(self, kind, *args, **kwargs):
        self.kind, self.args, self.kwargs = kind, args, kwargs
        _Recorder.calls.setdefault(kind, []).append(self)
        self.pure, self.scripts, self.binaries, self.datas = [], [], [], []


def _run_spec(env: dict[str, str] | None = None) -> dict[str, list]:
    _Recorder.calls = {}
    names = {
        n: (lambda kind: (lambda *a, **k: _Recorder(kind, *a, **k)))(n)
        for n in ("Analysis", "PYZ", "EXE", "COLLECT")
    }
    namespace = {"__name__": "__main__", "__file__": str(SPEC), "SPECPATH": str(SPEC.parent), **names}
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        exec(compile(SPEC.read_text(), str(SPEC), "exec"), namespace)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return _Recorder.calls


def test_spec_builds_a_one_folder_app_from_existing_files():
    calls = _run_spec()
    (analysis,) = calls["Analysis"]
    (exe,) = calls["EXE"]
    (coll,) = calls["COLLECT"]
    # One-folder: the EXE leaves binaries out and COLLECT gathers them beside it.
    assert exe.kwargs["exclude_binaries"] is True
    assert coll.kwargs["name"] == exe.kwargs["name"] == "holostim"
    scripts = analysis.args[0]
    assert scripts and all(Path(s).is_file() for s in scripts)
    assert Path(exe.kwargs["icon"]).is_file()
    for src, dest in analysis.kwargs["datas"]:
        # a pattern (PyInstaller globs the source part) must match files: the CUDA sources, the NWB spec
        assert (glob.glob(src) and all(Path(f).is_file() for f in glob.glob(src))) if "*" in src \
            else Path(src).is_file(), src
        assert not Path(dest).is_absolute()
    # The CLI's fallback for the default session is what the spec ships.
    shipped = (str(ROOT / "config" / "simulation.yaml"), os.path.join("holostim", "data"))
    assert shipped in analysis.kwargs["datas"]
    # Every hidden import names a module that exists (a typo would only warn at build time).
    for name in analysis.kwargs["hiddenimports"]:
        assert importlib.util.find_spec(name) is not None, name
    assert "holostim.cli" in analysis.kwargs["hiddenimports"]
    assert "holostim.session" in analysis.kwargs["hiddenimports"]
    # Device backends are imported by name from the registry, which PyInstaller cannot follow.
    from holostim.hardware.registry import BACKENDS

    for table in BACKENDS.values():
        for target in table.values():
            assert target.split(":")[0] in analysis.kwargs["hiddenimports"], target


def test_cupy_is_excluded_unless_asked():
    assert "cupy" in _run_spec()["Analysis"][0].kwargs["excludes"]
    assert "cupy" not in _run_spec({"HOLOSTIM_WITH_CUPY": "1"})["Analysis"][0].kwargs["excludes"]


def test_camera_sdks_are_excluded_unless_asked():
    default = _run_spec()["Analysis"][0].kwargs
    assert {"cv2", "pypylon"} <= set(default["excludes"]) and default["binaries"] == []
    assert "cv2" not in _run_spec({"HOLOSTIM_WITH_OPENCV": "1"})["Analysis"][0].kwargs["excludes"]


def test_pypylon_is_bundled_whole_when_asked():
    pytest.importorskip("pypylon")
    kwargs = _run_spec({"HOLOSTIM_WITH_PYLON": "1"})["Analysis"][0].kwargs
    assert "pypylon" not in kwargs["excludes"]
    names = {Path(src).name for src, _ in kwargs["binaries"]}
    assert any("TL" in n for n in names)  # the transport layers (libpylon_TL_usb.so ...), loaded at run time
    for src, dest in kwargs["binaries"]:
        assert Path(src).is_file() and not Path(dest).is_absolute() and dest.split(os.sep)[0] == "pypylon"


def test_entry_point_matches_the_console_script():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'holostim = "holostim.cli:main"' in pyproject.split("[project.scripts]")[1].split("[")[0]
    assert "holostim.cli" in (ROOT / "src" / "holostim" / "__main__.py").read_text()


def test_desktop_entry_is_valid():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read_string(DESKTOP.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    entry = parser["Desktop Entry"]
    # Required keys of the freedesktop.org Desktop Entry Specification for Type=Application.
    assert entry["Type"] == "Application"
    assert entry["Name"]
    assert entry["Exec"].split()[0] == "holostim"
    assert entry["Terminal"] in ("true", "false")
    for key in ("Categories", "Keywords"):
        assert entry[key].endswith(";"), f"{key} is a list and must end with ';'"
    # Additional category Biology needs a main category (Science) beside it.
    assert "Science" in entry["Categories"].split(";")
    known = {
        "Type", "Version", "Name", "GenericName", "Comment", "Exec", "TryExec", "Icon", "Terminal",
        "Categories", "Keywords", "StartupNotify",
    }
    assert set(entry) <= known
    # The icon is a theme name installed from assets/ by the install script.
    assert entry["Icon"] == "holostim"
    install = (ROOT / "packaging" / "install-desktop-entry.sh").read_text()
    for rel in ("assets/icon.png", "assets/icon.svg", "holostim.desktop"):
        assert rel.split("/")[-1] in install
        assert (ROOT / rel).is_file() or (ROOT / "packaging" / rel).is_file()


def test_icons_are_real_images():
    with Image.open(ROOT / "assets" / "icon.png") as im:
        assert im.size == (256, 256)
        assert im.mode == "RGBA"
        # Transparent corners (rounded square), opaque centre.
        assert im.getpixel((0, 0))[3] == 0
        assert im.getpixel((128, 128))[3] == 255
    import xml.etree.ElementTree as ET

    root = ET.parse(ROOT / "assets" / "icon.svg").getroot()
    assert root.tag.endswith("svg")
    assert root.get("viewBox") == "0 0 256 256"


@pytest.mark.parametrize("name", ["simulation.yaml", "rig-example.yaml"])
def test_shipped_configs_exist(name):
    assert (ROOT / "config" / name).is_file()


def test_packaged_simulation_session_is_the_one_in_config():
    # installs without the source tree fall back to holostim/data/simulation.yaml (holostim.cli)
    shipped = ROOT / "src" / "holostim" / "data" / "simulation.yaml"
    assert shipped.read_bytes() == (ROOT / "config" / "simulation.yaml").read_bytes(), (
        "copy config/simulation.yaml to src/holostim/data/simulation.yaml"
    )
