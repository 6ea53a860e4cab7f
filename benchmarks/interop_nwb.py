"""NWB interop benchmark: reading a segmentation's ROIs, exporting a long stimulation.

Usage::

    python benchmarks/interop_nwb.py [--rois 1000] [--presentations 2000] [--json out.json]

Prints a table:

* ``read_nwb`` of a PlaneSegmentation with N ROIs (pixel masks of ~80 px, and dense image masks on a
  512² frame), written with pynwb first: centroids, outlines and all;
* ``export_stimulation`` of a stimulation with M presentations of 50 patterns of 10 spots (the table the
  NWB export writes, validated afterwards), and ``pynwb.validate`` of the result.

Each row is the median of ``--repeat`` runs. No target: these run once per experiment, offline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _segmentation(path: Path, n: int, kind: str) -> None:
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ophys import ImageSegmentation, OpticalChannel

    nwb = NWBFile(session_description="bench", identifier="bench",
                  session_start_time=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    dev = nwb.create_device(name="scope")
    plane = nwb.create_imaging_plane(name="p", optical_channel=OpticalChannel(name="c", description="c",
                                                                              emission_lambda=520.0),
                                     description="p", device=dev, excitation_lambda=920.0, indicator="g",
                                     location="v1")
    seg = ImageSegmentation()
    nwb.create_processing_module(name="ophys", description="o").add(seg)
    ps = seg.create_plane_segmentation(name="cells", description="c", imaging_plane=plane)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[-5:6, -5:6]
    disc = xx ** 2 + yy ** 2 <= 25
    for _ in range(n):
        cx, cy = rng.integers(6, 506, 2)
        if kind == "pixel_mask":
            ps.add_roi(pixel_mask=[(int(x), int(y), 1.0) for x, y in zip(xx[disc] + cx, yy[disc] + cy,
                                                                          strict=True)])
        else:
            m = np.zeros((512, 512), np.float32)
            m[yy[disc] + cy, xx[disc] + cx] = 1.0
            ps.add_roi(image_mask=m)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def _stimulation(m: int):
    from holostim.interop.stimlog import Presentation, StimPattern, StimTarget, Stimulation

    rng = np.random.default_rng(1)
    patterns = {}
    for p in range(50):
        patterns[f"p{p}"] = StimPattern(f"p{p}", f"sha256:{p:064x}", tuple(
            StimTarget(10 * p + k + 1, tuple(rng.uniform(0, 512, 2)), tuple(rng.uniform(-200, 200, 2)),
                       1.0, p) for k in range(10)))
    pres = tuple(Presentation(f"p{i % 50}", 0.2 * i + 0.01, 0.2 * i + 0.11, 0.2 * i, i, i // 50,
                              tuple(rng.uniform(4, 6, 10)), None, f"sha256:{i % 50:064x}") for i in range(m))
    header = {"config": {"slm": {"wavelength_um": 1.04, "shape": [1152, 1920]},
                         "safety": {"laser_power_mw": 1000.0}},
              "slm": {"name": "bench", "shape": [1152, 1920]}, "holostim_version": "bench"}
    return Stimulation(Path("bench.jsonl"), dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), header, None,
                       {"name": "bench"}, {"outcome": "completed"}, patterns, pres, 0)


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rois", type=int, default=1000)
    ap.add_argument("--presentations", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    import warnings

    from pynwb import validate

    from holostim.interop import read_rois
    from holostim.interop.nwb_export import export_stimulation

    warnings.simplefilter("ignore")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, n in (("pixel_mask", a.rois), ("image_mask", min(a.rois, 200))):
            path = Path(tmp) / f"{kind}.nwb"
            _segmentation(path, n, kind)
            rows.append((f"read_nwb, {n} ROIs ({kind})", _median(lambda p=path: read_rois(p), a.repeat)))
        stim = _stimulation(a.presentations)
        out = Path(tmp) / "stim.nwb"
        rows.append((f"export, {a.presentations} presentations x 10 spots",
                     _median(lambda: export_stimulation(stim, out), a.repeat)))
        rows.append(("pynwb.validate of that file", _median(lambda: validate(path=str(out)), a.repeat)))
        assert list(validate(path=str(out))) == []
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(f"{'what':<48} {'ms (median)':>12}")
    for what, ms in rows:
        print(f"{what:<48} {ms:>12.1f}")
    print(f"load average: {' '.join(load)}")
    if a.json:
        a.json.write_text(json.dumps({"rows": dict(rows), "loadavg": load}, indent=2))


if __name__ == "__main__":
    main()
