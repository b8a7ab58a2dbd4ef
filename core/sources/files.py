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
from core.sources.base import FrameSource, Pacer, fit_within
from core.types import Frame

log = logging.getLogger(__name__)


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


def read_image_rgb(path: Path, max_side: int = 8192) -> np.ndarray:
    """Decode an image file to RGB uint8, or raise ImageReadError saying why not."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except (IsADirectoryError, PermissionError, OSError) as exc:
        raise ImageReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file")
    # checked before decoding: for a header declaring 20000x20000 OpenCV allocates 1.2 GB (an
    # OOM kill on a Pi); 60000x60000 raises cv2.error; OpenCV 4.10 decodes a truncated JPEG
    # into a half-grey picture without a word
    head = data.tobytes()
    size = declared_size(head)
    if size is not None and max(size) > max_side:
        raise ImageReadError(f"{path}: its header declares {size[0]}x{size[1]} pixels, larger than {max_side} on a side")
    if head.startswith(b"\xff\xd8") and head.find(b"\xff\xd9", max(head.rfind(b"\xff\xda"), 0)) < 0:
        raise ImageReadError(f"{path}: not a readable image (a truncated JPEG: its data stops before the end marker)")
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageReadError(f"{path}: not a readable image ({str(exc).strip().splitlines()[-1][:120]})") from None
    if bgr is None:
        raise ImageReadError(f"{path}: not a readable image (corrupt, truncated or an unsupported format)")
    if max(bgr.shape[:2]) > max_side:
        raise ImageReadError(f"{path}: {bgr.shape[1]}x{bgr.shape[0]} pixels is larger than {max_side} on a side")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def declared_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) as a JPEG, PNG, BMP or WebP header declares it, without decoding; None
    for other formats or a header too damaged to say (the decoder then has the last word)."""
    be16, le16 = (lambda i: int.from_bytes(head[i:i + 2], "big")), (lambda i: int.from_bytes(head[i:i + 2], "little"))
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24:
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head.startswith(b"BM") and len(head) >= 26:
        return abs(int.from_bytes(head[18:22], "little", signed=True)), abs(int.from_bytes(head[22:26], "little", signed=True))
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP" and len(head) >= 30:
        if head[12:16] == b"VP8X":
            return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
        if head[12:16] == b"VP8L":
            bits = int.from_bytes(head[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
        if head[12:16] == b"VP8 ":
            return le16(26) & 0x3FFF, le16(28) & 0x3FFF
        return None
    if head.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 <= len(head):
            if head[i] != 0xFF:
                return None
            marker = head[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
            elif marker in _JPEG_SOF:
                return be16(i + 7), be16(i + 5)
            elif marker == 0x01 or 0xD0 <= marker <= 0xD8:
                i += 2
            else:
                i += 2 + be16(i + 2)
    return None


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
        self.name = f"images:{pattern}"

    def _next_image(self) -> np.ndarray | None:
        good_this_pass = True
        while True:
            if self._i >= len(self.paths):
                if not self._loop or not good_this_pass:
                    return None  # the end, or a whole pass without one readable image
                self._i, good_this_pass = 0, False
            path = self.paths[self._i]
            self._i += 1
            try:
                self._full = read_image_rgb(path)
                return fit_within(self._full, self._size)
            except ImageReadError as exc:
                self.skipped += 1
                log.warning("skipping %s", exc)

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
