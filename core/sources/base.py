"""The FrameSource seam: `read() -> Frame | None`, `close()`, context manager."""

from __future__ import annotations

import abc
import time

import cv2
import numpy as np

from core.clock import now_ms
from core.types import Frame


class FrameSource(abc.ABC):
    """A supplier of RGB frames.

    `read()` blocks until the next frame and returns it, returns None once a finite source
    (file, image list) has ended, and raises SourceError when a device fails. `name` says what
    it is for logs and the diagnostics overlay; `live` is True for cameras (whose frames go
    stale), False for media that can wait for us; `realtime` is False only for media played
    as fast as possible (then nothing is dropped: the loop waits for the landmarker instead).
    """

    name: str = "source"
    live: bool = False
    realtime: bool = True

    @abc.abstractmethod
    def read(self) -> Frame | None: ...

    def capture_still(self) -> np.ndarray | None:
        """A full-resolution RGB still of the current scene, for the photo booth; None when the
        source has nothing better than its preview frames. Called from the capture thread."""
        return None

    def close(self) -> None:
        """Release the device or file; safe to call twice."""

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Pacer:
    """Holds a media source to its frame rate on the monotonic clock, without drifting."""

    def __init__(self, fps: float, enabled: bool = True) -> None:
        self.period_ms = 1000.0 / fps if fps > 0 else 0.0
        self.enabled = enabled and self.period_ms > 0
        self._start: float | None = None

    def wait(self, media_ms: float) -> None:
        if not self.enabled:
            return
        now = now_ms()
        if self._start is None:
            self._start = now - media_ms
        delay = self._start + media_ms - now
        if delay > 0:
            time.sleep(delay / 1000.0)
        elif delay < -500:  # fell far behind (stalled consumer): re-anchor rather than rush
            self._start = now - media_ms


def fit_within(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Downscale (never upscale) to fit inside `size`, keeping the aspect ratio."""
    h, w = rgb.shape[:2]
    scale = min(size[0] / w, size[1] / h)
    if scale >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
