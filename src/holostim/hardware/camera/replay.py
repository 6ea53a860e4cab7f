"""Replaying a recording: frames from a multi-page TIFF or a video file, looping at a set frame rate.

TIFF needs only tifffile (a base dependency); a video needs OpenCV, the optional ``[opencv]`` extra.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from holostim.files import ExistingFile
from holostim.hardware.camera.base import Camera, CameraError, CameraFileError, CameraOptions, to_gray
from holostim.hardware.camera.opencv import import_cv2

TIFF_SUFFIXES = (".tif", ".tiff", ".ome.tif", ".ome.tiff")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".webm")


class ReplayOptions(CameraOptions):
    """A multi-page TIFF or a video file played back in a loop."""

    path: ExistingFile
    loop: bool = True


class ReplayCamera(Camera):
    """Frames from a multi-page TIFF (tifffile) or a video file (OpenCV), looping at a set frame rate.

    For reviewing recorded data and for testing with real files. Each :meth:`snap` returns the next
    frame (wrapping round at the end when ``loop``); streaming paces frames at ``fps``. Colour frames are
    converted to grey, since holostim works on single-channel fluorescence images. ``exposure_ms`` is
    kept but cannot change recorded data.

    Parameters
    ----------
    path : str or Path
        A ``.tif``/``.tiff`` stack (every page, or every frame of a 3-D page, is one frame) or a video
        OpenCV can decode (``.avi``, ``.mp4``, ...).
    fps : float
        Playback rate when streaming.
    loop : bool
        Start again at the first frame after the last; otherwise reading past the end raises.
    """

    Options = ReplayOptions

    def __init__(self, path: str | Path, *, fps: float = 20.0, loop: bool = True, exposure_ms: float = 20.0):
        super().__init__(exposure_ms=exposure_ms, fps=fps, name=f"replay:{Path(path).name}")
        self.path = Path(path).expanduser()
        self.loop = bool(loop)
        self._index = 0
        if not self.path.is_file():
            raise CameraFileError(
                f"replay file {str(self.path)!r} does not exist; check camera.path in the session "
                "(relative paths resolve against the session file)"
            )
        name = self.path.name.lower()
        if name.endswith(TIFF_SUFFIXES):
            self._kind = "tiff"
            self._open_tiff()
        elif name.endswith(VIDEO_SUFFIXES):
            self._kind = "video"
            self._open_video()
        else:
            raise CameraFileError(
                f"replay file {str(self.path)!r} has suffix {self.path.suffix!r}; use a multi-page TIFF "
                f"({', '.join(TIFF_SUFFIXES[:2])}) or a video ({', '.join(VIDEO_SUFFIXES)})"
            )

    # -- TIFF: read page by page so long recordings are not loaded whole
    def _open_tiff(self) -> None:
        import tifffile

        try:
            self._tif = tifffile.TiffFile(self.path)
            series = self._tif.series[0]
            shape = tuple(series.shape)
            dtype = np.dtype(series.dtype)
        except Exception as exc:  # tifffile raises TiffFileError, ValueError, struct.error, ...
            raise CameraFileError(
                f"cannot read TIFF {str(self.path)!r}: {exc}; re-save it as a plain multi-page TIFF "
                "(e.g. tifffile.imwrite(path, stack))"
            ) from exc
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) == 4 and shape[-1] in (3, 4):  # RGB(A) stack
            self._rgb = True
            shape = shape[:3]
        else:
            self._rgb = False
        if len(shape) != 3:
            self._tif.close()
            raise CameraFileError(
                f"TIFF {str(self.path)!r} has shape {tuple(series.shape)}; expected frames × height × width"
            )
        self._n_frames = int(shape[0])
        self._shape = (int(shape[1]), int(shape[2]))
        self._dtype = dtype
        self._pages = series.pages if len(series.pages) == self._n_frames else None
        if self._pages is None:  # a single 3-D page (imagej hyperstack etc.): read it once
            self._stack = series.asarray().reshape(self._n_frames, *self._shape, *((3,) if self._rgb else ()))

    def _read_tiff(self, i: int) -> np.ndarray:
        img = self._pages[i].asarray() if self._pages is not None else self._stack[i]
        if self._rgb:
            img = to_gray(img, bgr=False)
        return np.ascontiguousarray(img)

    # -- video: decode sequentially, rewind on loop
    def _open_video(self) -> None:
        cv2 = import_cv2(f"replaying the video {self.path.name!r} (a multi-page TIFF needs no OpenCV)")

        self._cap = cv2.VideoCapture(str(self.path))
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok or first is None:
            self._cap.release()
            raise CameraFileError(
                f"OpenCV cannot decode video {str(self.path)!r}; convert it to an MJPG .avi or a "
                "multi-page TIFF (e.g. ffmpeg -i in.xyz -c:v mjpeg out.avi)"
            )
        gray = to_gray(first, bgr=True)
        self._shape = gray.shape
        self._dtype = gray.dtype
        self._pending: np.ndarray | None = gray
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._n_frames = count if count > 0 else None

    def _read_video(self) -> np.ndarray:
        cv2 = import_cv2("video replay")

        if self._pending is not None:
            img, self._pending = self._pending, None
            return img
        ok, img = self._cap.read()
        if not ok:
            if not self.loop:
                raise CameraError(f"replay of {str(self.path)!r} reached its end (loop=False)")
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._index = 0
            ok, img = self._cap.read()
            if not ok:
                raise CameraError(f"cannot rewind video {str(self.path)!r} for looping")
        return to_gray(img, bgr=True)

    # -- Camera interface
    @property
    def n_frames(self) -> int | None:
        """Frames in the file (``None`` when a video container does not say)."""
        return self._n_frames

    @property
    def position(self) -> int:
        """Index of the frame the next :meth:`snap` returns."""
        return self._index

    def _grab(self) -> np.ndarray:
        if self._kind == "video":
            img = self._read_video()
            self._index += 1
            return img
        if self._index >= self._n_frames:
            if not self.loop:
                raise CameraError(f"replay of {str(self.path)!r} reached its end (loop=False)")
            self._index = 0
        img = self._read_tiff(self._index)
        self._index += 1
        return img

    def _release(self) -> None:
        if self._kind == "tiff":
            self._tif.close()
        else:
            self._cap.release()
