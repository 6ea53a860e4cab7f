"""benchmarks/engine_3d.py runs end to end on a tiny grid and writes its JSON (numbers are not judged)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_3d_benchmark_runs(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("engine_3d", ROOT / "benchmarks" / "engine_3d.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "b.json"
    args = ["--sizes", "64", "--spots", "4", "--planes", "1,2", "--iterations", "2", "--repeats", "1",
            "--cross", "4,8", "--json", str(out)]
    assert mod.main(args) == 0
    text = capsys.readouterr().out
    assert "(2-D only)" in text and "direct sum faster up to N =" in text
    data = json.loads(out.read_text())
    assert [(q["spots"], q["planes"]) for q in data["quality"]] == [(4, 1), (4, 2)]
    assert all(0 < q["direct_uniformity"] <= 1 and q["direct_ms"] > 0 for q in data["quality"])
    assert len(data["crossover"]) == 2
