"""Playing a library's set in a protocol: load only its frame, check it belongs to this rig, judge it.

A stored frame is light for one SLM (its LUT and corrections) and one calibration (where the spots
land). It is played only on a session whose frame-making settings and calibration have the library's
fingerprint, and whose SLM still has the corrections it was made with; otherwise it is refused with a
line saying to rebuild. The frame then goes through the session's one gate like any prepared pattern
(:meth:`~holostim.session.Session.prepare_frame`): the verdict is computed from the frame itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from holostim.holography.metrics import METRIC_NAMES, HologramMetrics
from holostim.library.build import frame_settings, slm_fingerprint
from holostim.library.store import LibraryStoreError, read_set
from holostim.session.result import Target

__all__ = ["LibrarySet", "load_library_set", "prepare_library_pattern"]


@dataclass(frozen=True, eq=False)
class LibrarySet:
    """One set read from a library: its frame (verified against the manifest's hash) and its entry."""

    path: Path
    set_id: str
    frame: np.ndarray
    entry: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def targets(self) -> list[Target]:
        """The set's targets in camera px, with their weights and ids."""
        e = self.entry
        return [Target(float(x), float(y), float(w), 0, int(i))
                for (x, y), w, i in zip(e["camera_px"], e["weights"], e["target_ids"], strict=True)]

    @property
    def power_mw_per_spot(self) -> float | None:
        """The set's power per spot from the spec (``None``: none given)."""
        p = self.entry.get("power_mw_per_spot")
        return None if p is None else float(p)


def load_library_set(path: str | Path, set_id: str) -> LibrarySet:
    """Read one set's frame (only its rows of the store) and check its hash.

    Raises
    ------
    LibraryStoreError
        No library, no such set, an incomplete or corrupt library, or one holding phases, not frames.
    """
    path = Path(path)
    frame, entry, manifest = read_set(path, set_id)
    if manifest.get("output") != "frames":
        raise LibraryStoreError(f"library {path.name} holds phases, not SLM frames; a protocol plays frames "
                                "(build it with output: frames)")
    return LibrarySet(path, str(set_id), frame, entry, manifest)


def prepare_library_pattern(session: Any, lib: LibrarySet, name: str) -> Any:
    """The session's prepared pattern for a library set (its frame judged by the session's gate).

    Raises
    ------
    LibraryStoreError
        The library was built for another SLM setting or calibration, or the SLM's corrections changed.
    """
    m = lib.manifest
    cal = session.calibration.to_dict() if session.calibration is not None else None
    if slm_fingerprint(frame_settings(session.config), cal) != m["slm_fingerprint"]:
        raise LibraryStoreError(f"pattern {name!r}: library {lib.path.name} was built for another SLM "
                                "setting (shape, LUT, corrections) or calibration than this session's; "
                                "rebuild it with `holostim library build` for this session")
    slm, made = session.slm, m["slm"]
    live = {"blaze": [float(v) for v in slm.blaze],
            "zernike": {str(k): v for k, v in slm.zernike.items()}, "fresnel_focal_um": slm.fresnel_focal_um}
    want = {"blaze": [float(v) for v in made.get("blaze", (0.0, 0.0))],
            "zernike": made.get("zernike", {}), "fresnel_focal_um": made.get("fresnel_focal_um")}
    if live != want:
        raise LibraryStoreError(f"pattern {name!r}: the SLM's corrections (blaze, Zernike, lens) were "
                                f"changed since the session opened; library {lib.path.name} was made with "
                                "the session file's: restore them or rebuild the library")
    targets = lib.targets
    xy_slm = session.calibration.camera_to_slm(np.array([[t.x, t.y] for t in targets], dtype=np.float64))
    metrics = HologramMetrics(*(float(lib.entry[k]) for k in METRIC_NAMES))
    return session.prepare_frame(lib.frame, targets, xy_slm, name, metrics=metrics,
                                 method=f"library:{m['compute']['method']}",
                                 iterations=int(lib.entry.get("iterations", 0)))
