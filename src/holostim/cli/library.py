"""``holostim library build|info|show``: mask libraries computed on Dask into a Zarr store, and their sets.

``build`` checks the spec and every target against the session before any worker starts (one line per
problem, exit 2), then computes only the chunks the store lacks: run it again after a crash or a kill
and it finishes the rest. ``info`` lists the sets with their metrics and hashes; ``show`` opens a small
window on one set (Qt is imported only then).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from holostim.cli.defaults import default_config
from holostim.cli.errors import EXIT_OK, CLIError

__all__ = ["add_library_parser", "cmd_library_build", "cmd_library_info", "cmd_library_show"]


def add_library_parser(sub: Any, parents: list) -> None:
    """The ``library`` command and its ``build``, ``info`` and ``show`` verbs."""
    from pathlib import Path

    lib = sub.add_parser("library", parents=parents,
                         help="mask libraries: build on Dask, list and show their sets")
    verbs = lib.add_subparsers(dest="library_command", metavar="VERB", required=True)
    b = verbs.add_parser("build", parents=parents, help="compute a library's masks into a Zarr store "
                         "(resumable: a rerun computes only what is missing)")
    b.add_argument("spec", type=Path, help="library spec YAML (see config/library-ensembles.yaml)")
    b.add_argument("--config", type=Path, help="session YAML (default: the simulation session)")
    b.add_argument("--out", type=Path, required=True, help="the library store (LIB.zarr)")
    where = b.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (tcp://host:8786)")
    where.add_argument("--workers", type=int, default=2, metavar="N",
                       help="worker processes of the local cluster (default 2; one FFT thread each)")
    b.add_argument("--dashboard", action="store_true", help="serve the local cluster's Dask dashboard")
    b.set_defaults(func=cmd_library_build)
    i = verbs.add_parser("info", parents=parents, help="list a library's sets and metrics")
    i.add_argument("library", type=Path, help="the library store (LIB.zarr)")
    i.set_defaults(func=cmd_library_info)
    w = verbs.add_parser("show", parents=parents, help="preview one set in a window: its SLM frame, the "
                         "predicted light with its targets circled, its metrics")
    w.add_argument("library", type=Path, help="the library store (LIB.zarr)")
    w.add_argument("set", help="the set's id (as `holostim library info` lists them)")
    w.set_defaults(func=cmd_library_show)


def cmd_library_build(args: argparse.Namespace) -> int:
    """Plan (and check) the library against the session, then compute the missing chunks on Dask."""
    from holostim.config import load_config
    from holostim.library.build import build_library, plan_library, text_progress
    from holostim.library.spec import load_spec

    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers {args.workers}: give at least 1 worker process")
    spec = load_spec(args.spec)
    cfg = load_config(args.config or default_config())
    plan = plan_library(spec, cfg)
    print(f"library      {spec.name}: {len(plan.sets)} sets in {plan.n_chunks} chunks of {spec.chunk_sets}, "
          f"{spec.output} {cfg.slm.shape[0]}x{cfg.slm.shape[1]}, {spec.compute.method} "
          f"x{spec.compute.iterations}")
    sys.stdout.flush()

    def show_progress(futures: list) -> None:
        if args.dashboard and futures:
            print(f"dashboard    {futures[0].client.dashboard_link}")
        text_progress(futures)  # Dask's text progress bar; returns when every chunk is done
        print()

    report = build_library(plan, args.out, scheduler=args.scheduler, workers=args.workers or 2,
                           dashboard=args.dashboard, on_futures=show_progress)
    print(f"chunks       {report.computed_chunks} computed, {report.skipped_chunks} already done")
    print(f"saved        {report.path}")
    return EXIT_OK


def cmd_library_info(args: argparse.Namespace) -> int:
    """Print the library's settings and one line per set (targets, metrics, hash)."""
    from holostim.library.store import open_manifest

    m = open_manifest(args.library)
    comp = m["compute"]
    results = m.get("results") or []
    print(f"library      {m['name']} ({'complete' if m.get('complete') else 'incomplete: build it again'})")
    print(f"sets         {len(m['sets'])}, {m['output']} {m['shape'][0]}x{m['shape'][1]}, chunks of "
          f"{m['chunk_sets']}")
    print(f"compute      {comp['method']} x{comp['iterations']}, seed {comp['seed']}")
    batch = m.get("batch")
    if batch is not None:  # libraries built before batches existed computed one set at a time
        print(f"batch        {batch['size']} sets per FFT stack ({batch['reason']})")
    print(f"holostim     {m['holostim']}")
    print(f"{'set':<12} {'targets':>7} {'efficiency':>10} {'uniformity':>10}  sha256")
    for i, s in enumerate(m["sets"]):
        r = results[i] if i < len(results) else None
        if r is None:
            print(f"{s['id']:<12} {len(s['target_ids']):>7} {'-':>10} {'-':>10}  -")
        else:
            print(f"{s['id']:<12} {len(s['target_ids']):>7} {r['efficiency']:>10.4f} {r['uniformity']:>10.4f}"
                  f"  {r['sha256'][7:23]}")
    return EXIT_OK


def cmd_library_show(args: argparse.Namespace) -> int:
    """Open the set viewer (the set is read, and a wrong id refused, before Qt starts)."""
    from holostim.library.view import view_set

    view = view_set(args.library, args.set)  # every input error is one line here, with no window
    from holostim.gui.library_view import run_library_view

    return run_library_view(view)
