"""Motion, seen cheaply: a tiny grey thumbnail of each frame, compared with an earlier one.

Both users ask "did something move?" at every frame where nobody is scored yet, so it must cost
next to nothing (~0.1 ms for a 640x480 frame): the frame is shrunk before it is turned grey.
The scheduler asks whether anything moved at all (mean change); the zoom asks where (which
pixels changed); each sets its own threshold.
"""

from __future__ import annotations

import cv2
import numpy as np

THUMB = (32, 24)  # width, height: enough to place a person, too small to show who it is


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """The frame as a THUMB-sized grey picture (int16, so differences can go negative)."""
    small = cv2.resize(rgb, THUMB, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.int16)


def change(before: np.ndarray, now: np.ndarray) -> np.ndarray:
    """Per-pixel absolute grey-level change (0-255) between two thumbnails."""
    return np.abs(now - before)

# Where something moved, for the zoom's windows and the LiteRT backend's newcomer search:
MOVED_BY = 16       # grey levels (0-255) a thumbnail pixel must change by to count as motion
MOVED_MIN = 2       # thumbnail pixels that must change before a window is chosen by motion
# ... and what counts as a newcomer beside a tracked face: a blob, not the thin lines that edges
# draw when the picture drifts a little (the demo's moving portrait, a camera on a soft mount) or
# a tracked person's hair swings. Pixels left after a 2x2 erosion: a person stepping in leaves dozens.
NEWCOMER_CORE = 3


def blob_pixels(moved: np.ndarray) -> int:
    """Changed thumbnail pixels whose 2x2 neighbourhood changed too."""
    return int(cv2.erode(moved.astype(np.uint8), np.ones((2, 2), np.uint8)).sum())
