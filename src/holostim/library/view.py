"""One library set made ready to look at: its frame, the light it makes, its targets, metrics and entry.

``holostim library show LIB.zarr SET`` draws what :func:`view_set` returns (the Qt window is
:mod:`holostim.gui.library_view`); everything that can fail on the user's input (no library, a mistyped
set id, an incomplete or corrupt store) fails here, before Qt starts, as one line.

The pictures use the library's own manifest, not whatever session is open now: the frame is the stored
one (``output: frames``) or the stored phase made a frame by the SLM settings the library was built for
(``output: phases``); the light is that frame through the session's optics model
(:class:`holostim.session.preview.Preview`: the configured beam on the pixelated SLM, 8-bit levels, the
Fourier lens) after removing the SLM's corrections, as the session's gate does, so the spots sit at their
SLM Fourier pixels (the targets' ``slm_px``) and the zero order at ``(N//2, N//2)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from holostim.holography.metrics import METRIC_NAMES
from holostim.library.store import LibraryStoreError, open_manifest, read_set

__all__ = ["SetView", "describe_set", "view_set"]


@dataclass(frozen=True, eq=False)
class SetView:
    """What the library viewer shows for one set."""

    path: Path
    set_id: str
    ids: tuple[str, ...]  # every set of the library, in order
    frame: np.ndarray  # the SLM's gray levels, as the panel shows them
    phase: np.ndarray  # the phase in the engine's coordinates (corrections removed)
    intensity: np.ndarray  # predicted focal-plane intensity (sums to 1), zero order at (N//2, N//2)
    targets_slm: np.ndarray  # (n, 2) (x, y) SLM Fourier px: where each target's spot is drawn
    entry: dict[str, Any]
    manifest: dict[str, Any]


def _session_config(manifest: dict[str, Any]):  # type: ignore[no-untyped-def]
    """The session the library was built for, from the manifest's resolved copy."""
    from holostim.config import parse_config
    from holostim.config.messages import ConfigError

    try:
        return parse_config(yaml.safe_dump(manifest["session"]), file="<library manifest>")
    except (ConfigError, KeyError) as exc:
        raise LibraryStoreError(f"the library's manifest holds no usable session ({exc}); rebuild it with "
                                "this holostim") from None


def view_set(path: str | Path, set_id: str) -> SetView:
    """Read one set and compute its predicted light (module docstring).

    Raises
    ------
    LibraryStoreError
        No library, no such set (the message lists the closest ids), incomplete or corrupt.
    """
    from holostim.hardware.slm.base import SLM
    from holostim.session.preview import Preview

    path = Path(path)
    data, entry, manifest = read_set(path, set_id)
    slm = SLM(**manifest["slm"])
    if manifest["output"] == "frames":
        frame = data
    else:
        frame = slm.phase_to_gray(np.asarray(data, dtype=np.float32))
    phase = slm.gray_to_phase(frame) - slm.correction_phase
    cfg = _session_config(manifest)
    intensity = Preview(cfg).intensity(phase, tuple(slm.shape))
    ids = tuple(s["id"] for s in manifest["sets"])
    xy = np.asarray(entry["slm_px"], dtype=np.float64).reshape(-1, 2)
    return SetView(path, str(set_id), ids, frame, phase, intensity, xy, entry, manifest)


def describe_set(view: SetView) -> list[str]:
    """The set's metrics and manifest entry as lines of text (what the viewer's side panel shows)."""
    m, e = view.manifest, view.entry
    comp = m["compute"]
    lines = [f"library   {m['name']}  ({view.path.name})",
             f"set       {view.set_id}  ({view.ids.index(view.set_id) + 1} of {len(view.ids)})",
             f"compute   {comp['method']} x{e.get('iterations', comp['iterations'])}, seed {e['seed']}",
             f"stored    {m['output']} {m['shape'][1]}x{m['shape'][0]}, {e['sha256'][:23]}…"]
    if e.get("compute_ms") is not None:
        batch = f" (batch {e['batch']})" if "batch" in e else ""
        lines.append(f"time      {e['compute_ms']:.1f} ms{batch}")
    if e.get("power_mw_per_spot") is not None:
        lines.append(f"power     {e['power_mw_per_spot']:g} mW per spot")
    lines.append("")
    lines.extend(f"{name:<16}{float(e[name]):.4f}" for name in METRIC_NAMES)
    lines.append("")
    lines.append(f"{'id':>4} {'camera x,y px':>16} {'SLM x,y px':>16} {'sample x,y µm':>16} {'weight':>6}")
    for i, tid in enumerate(e["target_ids"]):
        (cx, cy), (sx, sy) = e["camera_px"][i], e["slm_px"][i]
        ux, uy = e["sample_um"][i][:2]
        lines.append(f"{tid:>4} {cx:>7.1f},{cy:>7.1f}  {sx:>7.1f},{sy:>7.1f}  {ux:>7.1f},{uy:>7.1f}  "
                     f"{e['weights'][i]:>6.3g}")
    lines.append("")
    lines.append(f"holostim  {m['holostim']}, library {m['fingerprint'][:19]}…")
    return lines


def set_ids(path: str | Path) -> list[str]:
    """The ids of a library's sets, in order (for a chooser)."""
    return [s["id"] for s in open_manifest(path)["sets"]]
