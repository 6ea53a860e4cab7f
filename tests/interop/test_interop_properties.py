"""Properties of the ROI geometry and the room's place among the floors."""

from __future__ import annotations

import grimp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from holostim.interop.imagej import polygon_centroid

coords = st.floats(-500, 500, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(cx=coords, cy=coords, rx=st.floats(1, 50), ry=st.floats(1, 50), n=st.integers(3, 40),
       a=st.floats(0.3, 3), b=st.floats(-1, 1), c=st.floats(-1, 1), d=st.floats(0.3, 3),
       tx=coords, ty=coords, start=st.integers(0, 39), reverse=st.booleans())
def test_polygon_centroid_is_affine_covariant_and_ignores_start_and_winding(cx, cy, rx, ry, n, a, b, c, d,
                                                                            tx, ty, start, reverse):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    # A star-shaped, lopsided polygon (radius varies), so the vertex mean is not the area centroid.
    r = 1 + 0.5 * np.cos(t) ** 2 + 0.3 * np.sin(3 * t)
    xy = np.stack([cx + rx * r * np.cos(t), cy + ry * r * np.sin(t)], axis=1)
    m = np.array([[a, b], [c, d]])
    if abs(np.linalg.det(m)) < 0.05:
        return
    x0, y0, area = polygon_centroid(xy)
    moved = xy @ m.T + [tx, ty]
    moved = np.roll(moved, start % n, axis=0)
    if reverse:
        moved = moved[::-1]
    x1, y1, area1 = polygon_centroid(moved)
    expected = m @ [x0, y0] + [tx, ty]
    scale = 1 + abs(tx) + abs(ty) + abs(cx) + abs(cy)
    assert abs(x1 - expected[0]) < 1e-6 * scale and abs(y1 - expected[1]) < 1e-6 * scale
    assert abs(area1 - area * abs(np.linalg.det(m))) < 1e-6 * area * abs(np.linalg.det(m))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(3, 12), extra=st.lists(st.integers(0, 6), min_size=12, max_size=12),
       seed=st.integers(0, 2**16))
def test_polygon_centroid_ignores_extra_vertices_along_its_edges(n, extra, seed):
    # Fiji's traced outlines put many vertices on some sides and few on others: the area's centroid
    # must not move (the vertex mean would).
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xy = np.stack([30 * np.cos(t) * (1 + 0.4 * np.sin(2 * t)), 20 * np.sin(t)], axis=1) + [200, 100]
    rng = np.random.default_rng(seed)
    dense = []
    for i in range(n):
        p, q = xy[i], xy[(i + 1) % n]
        dense.append(p)
        dense.extend(p + (q - p) * f for f in np.sort(rng.uniform(0.05, 0.95, extra[i])))
    x0, y0, a0 = polygon_centroid(xy)
    x1, y1, a1 = polygon_centroid(np.array(dense))
    assert abs(x1 - x0) < 1e-7 and abs(y1 - y0) < 1e-7 and abs(a1 - a0) < 1e-7 * a0


ALLOWED_BELOW = ("holostim.session", "holostim.config", "holostim.calibration", "holostim.eventlog",
                 "holostim.geometry", "holostim.safety", "holostim.hardware", "holostim.holography",
                 "holostim.sim", "holostim.optics", "holostim.backend", "holostim.errors", "holostim.checks",
                 "holostim.files", "holostim.threads")


def _within(module: str, rooms) -> bool:
    return any(module == r or module.startswith(r + ".") for r in rooms)


def test_interop_imports_only_below_itself_and_only_the_gui_napari_and_cli_import_it():
    g = grimp.build_graph("holostim")
    ours = [m for m in g.modules if _within(m, ("holostim.interop",))]
    up = sorted({i for m in ours for i in g.find_modules_directly_imported_by(m)
                 if not _within(i, ("holostim.interop",) + ALLOWED_BELOW)})
    assert not up, f"holostim.interop imports above its floor: {up}"
    users = sorted({u for m in ours for u in g.find_modules_that_directly_import(m)
                    if not _within(u, ("holostim.interop", "holostim.gui", "holostim.napari",
                                       "holostim.cli"))})
    assert not users, f"only gui/, napari/ and cli/ (the floors above) may import holostim.interop: {users}"
