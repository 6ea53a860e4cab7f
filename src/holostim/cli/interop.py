"""``holostim import-rois`` (an analysis's ROIs → a target file) and ``holostim export-nwb`` (a log → NWB).

Prints one line — ROIs read, kept, targets written and where, and the registration's residual — so a
script can log it. Nothing is written when nothing passes the selection: an empty target file would
look like a successful import of nothing.
"""

from __future__ import annotations

import argparse
import math

from holostim.cli.errors import EXIT_OK

__all__ = ["cmd_export_nwb", "cmd_import_rois"]


def cmd_import_rois(args: argparse.Namespace) -> int:
    """Read the ROIs, select, register to the camera, write the targets (ids = ROI id + 1)."""
    from holostim.interop import InteropError, Registration, read_rois, to_targets
    from holostim.session.target_files import save_targets

    reg = Registration.load(args.transform) if args.transform is not None else None  # before any work
    rois = read_rois(args.path, plane=getattr(args, "plane", None))
    kept = rois.select(min_prob=args.min_prob, cells_only=args.cells_only)
    if len(kept) == 0:
        raise InteropError(f"{rois.source}: none of its {len(rois)} ROIs pass the selection "
                           f"(--min-prob {args.min_prob}, --cells-only {args.cells_only}); nothing written")
    out = save_targets(args.out, to_targets(kept, reg, group=args.group))
    if reg is None:
        frame = "imaging px taken as camera px (no --transform)"
    else:
        res = "no landmarks" if math.isnan(reg.residual_px) else f"residual {reg.residual_px:.2f} px"
        frame = f"registered by {args.transform} ({res})"
    print(f"import-rois: read {len(rois)} {rois.format} ROIs from {rois.source}, kept {len(kept)}, wrote "
          f"{len(kept)} targets (id = ROI id + 1, group {args.group}) to {out}; {frame}")
    return EXIT_OK


def cmd_export_nwb(args: argparse.Namespace) -> int:
    """Write the log's stimulation to NWB; one line: presentations, patterns, targets' unit, where."""
    from holostim.interop.nwb_export import export_stimulation
    from holostim.interop.stimlog import read_stimulation

    if args.out.suffix.lower() != ".nwb":
        from holostim.cli.errors import CLIError
        raise CLIError(f"--out {str(args.out)!r} must end in .nwb")
    stim = read_stimulation(args.log)
    out = export_stimulation(stim, args.out, effector=args.effector, location=args.location)
    targets = {t.id for p in stim.patterns.values() for t in p.targets}
    calibrated = all(t.sample_um is not None for p in stim.patterns.values() for t in p.targets)
    print(f"export-nwb: {len(stim.presentations)} presentations of {len(stim.patterns)} patterns "
          f"({len(targets)} targets, in {'sample µm and camera px' if calibrated else 'camera px only'}) "
          f"from {stim.source} to {out}")
    return EXIT_OK
