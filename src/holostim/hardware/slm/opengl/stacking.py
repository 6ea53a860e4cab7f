"""Is anything on top of the SLM window?  The X server's stacking order, read with libxcb (no Qt).

Qt reports a window as exposed even when another window covers it completely (X servers without
compositing send no visibility change Qt acts on), so the OpenGL SLM's interlock asks the X server
directly. Plain ctypes over libxcb: this module needs neither Qt nor Xlib, and libxcb's errors come back
as values, with no process-wide error handler to install.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["XcbStacking"]

class _XcbWindowId(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint)]  # every xcb_*_cookie_t is this


class _QueryTreeReply(ctypes.Structure):
    _fields_ = [
        ("response_type", ctypes.c_uint8),
        ("pad0", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("length", ctypes.c_uint32),
        ("root", ctypes.c_uint32),
        ("parent", ctypes.c_uint32),
        ("children_len", ctypes.c_uint16),
        ("pad1", ctypes.c_uint8 * 14),
    ]


class _AttributesReply(ctypes.Structure):
    _fields_ = [
        ("response_type", ctypes.c_uint8),
        ("backing_store", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("length", ctypes.c_uint32),
        ("visual", ctypes.c_uint32),
        ("klass", ctypes.c_uint16),
        ("bit_gravity", ctypes.c_uint8),
        ("win_gravity", ctypes.c_uint8),
        ("backing_planes", ctypes.c_uint32),
        ("backing_pixel", ctypes.c_uint32),
        ("save_under", ctypes.c_uint8),
        ("map_is_installed", ctypes.c_uint8),
        ("map_state", ctypes.c_uint8),
        ("override_redirect", ctypes.c_uint8),
    ]


class _GeometryReply(ctypes.Structure):
    _fields_ = [
        ("response_type", ctypes.c_uint8),
        ("depth", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("length", ctypes.c_uint32),
        ("root", ctypes.c_uint32),
        ("x", ctypes.c_int16),
        ("y", ctypes.c_int16),
        ("width", ctypes.c_uint16),
        ("height", ctypes.c_uint16),
        ("border_width", ctypes.c_uint16),
    ]


class XcbStacking:
    """Finds the mapped windows stacked above ours that overlap a rectangle, on its own X connection.

    Qt reports a window as exposed even when another window covers it completely (X servers without
    compositing send no visibility change Qt acts on), so the interlock asks the X server directly:
    the root window's children come in stacking order, bottom to top; every viewable InputOutput window
    above our top-level ancestor that intersects the SLM rectangle covers part of the pattern. libxcb
    (not Xlib) is used because its errors come back as values, with no process-wide error handler.
    """

    _IS_VIEWABLE = 2
    _INPUT_OUTPUT = 1

    def __init__(self) -> None:
        lib = ctypes.CDLL(ctypes.util.find_library("xcb") or "libxcb.so.1")
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        vp, u32, cookie = ctypes.c_void_p, ctypes.c_uint32, _XcbWindowId
        err = ctypes.POINTER(ctypes.c_void_p)
        sig = {
            "xcb_connect": (vp, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
            "xcb_connection_has_error": (ctypes.c_int, [vp]),
            "xcb_disconnect": (None, [vp]),
            "xcb_query_tree": (cookie, [vp, u32]),
            "xcb_query_tree_reply": (ctypes.POINTER(_QueryTreeReply), [vp, cookie, err]),
            "xcb_query_tree_children": (ctypes.POINTER(u32), [ctypes.POINTER(_QueryTreeReply)]),
            "xcb_query_tree_children_length": (ctypes.c_int, [ctypes.POINTER(_QueryTreeReply)]),
            "xcb_get_window_attributes": (cookie, [vp, u32]),
            "xcb_get_window_attributes_reply": (ctypes.POINTER(_AttributesReply), [vp, cookie, err]),
            "xcb_get_geometry": (cookie, [vp, u32]),
            "xcb_get_geometry_reply": (ctypes.POINTER(_GeometryReply), [vp, cookie, err]),
        }
        for name, (res, args) in sig.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        libc.free.argtypes, libc.free.restype = [vp], None
        self._x, self._free = lib, libc.free
        self._conn = lib.xcb_connect(None, None)
        if not self._conn or lib.xcb_connection_has_error(self._conn):
            raise OSError("cannot open an xcb connection to $DISPLAY")

    def _reply(self, fn, cookie):
        e = ctypes.c_void_p()
        r = fn(self._conn, cookie, ctypes.byref(e))
        if e.value:
            self._free(e)
        return r if r else None

    def _tree(self, wid: int) -> tuple[int, int, list[int]] | None:
        r = self._reply(self._x.xcb_query_tree_reply, self._x.xcb_query_tree(self._conn, wid))
        if r is None:
            return None
        try:
            n = self._x.xcb_query_tree_children_length(r)
            kids = self._x.xcb_query_tree_children(r)
            return r.contents.root, r.contents.parent, [kids[i] for i in range(n)]
        finally:
            self._free(ctypes.cast(r, ctypes.c_void_p))

    def covering(self, wid: int, rect: tuple[int, int, int, int]) -> list[int]:
        """X ids of viewable windows above ``wid``'s top-level that intersect ``rect`` (x, y, w, h)."""
        top, tree = wid, self._tree(wid)
        while tree is not None and tree[1] not in (0, tree[0]):
            top, tree = tree[1], self._tree(tree[1])
        if tree is None:
            return []
        root_tree = self._tree(tree[0])
        if root_tree is None or top not in root_tree[2]:
            return []
        above = root_tree[2][root_tree[2].index(top) + 1 :]
        x = self._x
        cookies = [
            (w, x.xcb_get_window_attributes(self._conn, w), x.xcb_get_geometry(self._conn, w)) for w in above
        ]
        rx, ry, rw, rh = rect
        hits = []
        for w, ca, cg in cookies:
            pa = self._reply(x.xcb_get_window_attributes_reply, ca)
            pg = self._reply(x.xcb_get_geometry_reply, cg)
            try:
                if pa is None or pg is None:
                    continue
                a, g = pa.contents, pg.contents
                if a.map_state != self._IS_VIEWABLE or a.klass != self._INPUT_OUTPUT:
                    continue
                b = 2 * g.border_width
                if g.x < rx + rw and rx < g.x + g.width + b and g.y < ry + rh and ry < g.y + g.height + b:
                    hits.append(int(w))
            finally:
                for ptr in (pa, pg):
                    if ptr is not None:
                        self._free(ctypes.cast(ptr, ctypes.c_void_p))
        return hits

    def close(self) -> None:
        """Close the X connection."""
        if self._conn:
            self._x.xcb_disconnect(self._conn)
            self._conn = None
