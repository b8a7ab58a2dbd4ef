"""Recorded media as a camera: a video file or a list of still images.

They stand in for the camera on a laptop and in tests (as pibooth's tests play recorded media).
`pace=True` delivers frames at the media's own rate on the monotonic clock; `pace=False` as fast
as the consumer reads, for batch runs and benchmarks.
"""

from __future__ import annotations

import glob
import logging
from pathlib import Path

import cv2
import numpy as np

from core.errors import ImageReadError, SourceError
from core.image_guard import MAX_SIDE, declared_size, read_image  # noqa: F401  (declared_size: re-exported)
from core.safe_io import shown
from core.sources.base import FrameSource, Pacer, fit_within
from core.types import Frame

log = logging.getLogger(__name__)

MIN_SIDE = 16  # the landmarker's smallest frame (core.landmarker.check_frame)


class VideoFileSource(FrameSource):
    """A video file, decoded by OpenCV. `t_ms` is the frame's position in the file (continuing
    to grow across loops), so readings line up with the video's own timeline."""

    def __init__(self, path: Path, size: tuple[int, int] = (640, 480), *, pace: bool = True, loop: bool = False) -> None:
        if not path.is_file():
            raise SourceError(f"video file {path} does not exist")
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise SourceError(f"video file {path} cannot be decoded")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        self._path, self._size, self._loop = path, size, loop
        self._pacer = Pacer(self.fps, pace)
        self.realtime = pace
        self._pos = 0  # frames delivered since the start, across loops
        self._since_rewind = 0
        self._full: np.ndarray | None = None
        self.name = f"video:{path.name}"

    def capture_still(self) -> np.ndarray | None:
        """The current frame at the file's own resolution."""
        return None if self._full is None else cv2.cvtColor(self._full, cv2.COLOR_BGR2RGB)

    def read(self) -> Frame | None:
        ok, bgr = self._cap.read()
        if not ok:
            if not self._loop or self._since_rewind == 0:
                return None
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._since_rewind = 0
            ok, bgr = self._cap.read()
            if not ok:
                return None
        t_ms = self._pos * 1000.0 / self.fps
        self._pacer.wait(t_ms)
        self._full = bgr
        rgb = cv2.cvtColor(fit_within(bgr, self._size), cv2.COLOR_BGR2RGB)
        self._pos += 1
        self._since_rewind += 1
        return Frame(rgb=rgb, t_ms=t_ms, index=self._pos)

    def close(self) -> None:
        cap, self._cap = getattr(self, "_cap", None), None
        if cap is not None:
            cap.release()


def read_image_rgb(path: Path, max_side: int = MAX_SIDE) -> np.ndarray:
    """Decode an image file to RGB uint8, or raise ImageReadError saying why not (bounded in
    memory whatever the file holds: core.image_guard)."""
    decoded = read_image(path, max_side)
    if decoded.warnings:
        log.warning("%s is damaged (%s); shown as decoded", shown(path), "; ".join(decoded.warnings))
    return cv2.cvtColor(decoded.bgr, cv2.COLOR_BGR2RGB)


class ImageFilesSource(FrameSource):
    """Still images matching a glob, in name order. Paced, each is held for `hold_s` seconds
    (so a person can see it and the tracker settles); unpaced, each is one frame.
    Unreadable files are logged and skipped."""

    def __init__(self, pattern: str, size: tuple[int, int] = (640, 480), *, fps: int = 30, pace: bool = True,
                 loop: bool = False, hold_s: float = 2.0) -> None:
        self.paths = [Path(p) for p in sorted(glob.glob(pattern))]
        if not self.paths:
            raise SourceError(f"no images match {pattern!r}")
        self._size, self._loop = size, loop
        self._repeat = max(1, round(hold_s * fps)) if pace else 1
        self._pacer = Pacer(fps, pace)
        self.realtime = pace
        self._period = 1000.0 / fps
        self._i = 0
        self._current: np.ndarray | None = None
        self._full: np.ndarray | None = None
        self._shown = 0
        self._pos = 0
        self.skipped = 0
        self._bad: set[int] = set()
        self._damaged: set[int] = set()
        self.name = f"images:{shown(pattern)}"

    def _next_image(self) -> np.ndarray | None:
        """The next readable image. A file that failed is said once and not tried again, and a
        damaged one is named once: a looping list must not write the same warning for ever."""
        good_this_pass = True
        while True:
            if self._i >= len(self.paths):
                if not self._loop or not good_this_pass:
                    return None  # the end, or a whole pass without one readable image
                self._i, good_this_pass = 0, False
            i = self._i
            self._i += 1
            if i in self._bad:
                continue
            try:
                decoded = read_image(self.paths[i])
                if min(decoded.bgr.shape[:2]) < MIN_SIDE:  # nothing to show or score in it
                    h, w = decoded.bgr.shape[:2]
                    raise ImageReadError(f"{shown(self.paths[i])}: {w}x{h} pixels is too small to show "
                                         f"(at least {MIN_SIDE} on a side)")
            except ImageReadError as exc:
                self.skipped += 1
                self._bad.add(i)
                log.warning("skipping %s", exc)
                if len(self._bad) == len(self.paths):
                    return None
                continue
            if (decoded.warnings or decoded.notes) and i not in self._damaged:
                self._damaged.add(i)
                if decoded.warnings:
                    log.warning("%s is damaged (%s); shown as decoded", shown(self.paths[i]),
                                "; ".join(decoded.warnings))
                if decoded.notes:
                    log.info("%s: %s", shown(self.paths[i]), "; ".join(dict.fromkeys(decoded.notes)))
            self._full = cv2.cvtColor(decoded.bgr, cv2.COLOR_BGR2RGB)
            good_this_pass = True
            return fit_within(self._full, self._size)

    def capture_still(self) -> np.ndarray | None:
        return self._full

    def read(self) -> Frame | None:
        if self._current is None or self._shown >= self._repeat:
            self._current = self._next_image()
            self._shown = 0
            if self._current is None:
                return None
        t_ms = self._pos * self._period
        self._pacer.wait(t_ms)
        self._shown += 1
        self._pos += 1
        return Frame(rgb=self._current, t_ms=t_ms, index=self._pos)
