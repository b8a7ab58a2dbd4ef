"""MediaPipe's landmark smoothing for one tracked face in video (a One Euro filter per coordinate).

Same settings as its single-face Face Landmarker in VIDEO mode (min cutoff 0.05, beta 80,
derivative cutoff 1), with the velocity measured in face sizes per second, so the filter holds a
still face steady whatever its distance and lets a fast move through at once.
"""

from __future__ import annotations

import math

import numpy as np

MIN_CUTOFF = 0.05
BETA = 80.0
D_CUTOFF = 1.0


def _alpha(cutoff: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt_s)


class LandmarkSmoother:
    """Filters (N, 3) landmarks in pixels (z scaled like x); `reset()` when the face is lost."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None      # last filtered value
        self._raw: np.ndarray | None = None    # last raw value
        self._dx: np.ndarray | None = None     # last filtered derivative
        self._t_ms: float | None = None

    def apply(self, points_px: np.ndarray, t_ms: float) -> np.ndarray:
        pts = points_px.astype(np.float64)
        scale = 0.5 * (np.ptp(pts[:, 0]) + np.ptp(pts[:, 1]))
        if scale < 1e-6:
            return points_px
        if self._x is None or self._t_ms is None:
            self._x, self._raw, self._dx, self._t_ms = pts, pts, np.zeros_like(pts), t_ms
            return points_px
        if t_ms <= self._t_ms:  # same or older timestamp: MediaPipe passes the value through
            return points_px
        dt = (t_ms - self._t_ms) / 1000.0
        self._t_ms = t_ms
        dvalue = (pts - self._raw) / scale / dt
        self._dx = self._dx + _alpha(D_CUTOFF, dt) * (dvalue - self._dx)
        a = _alpha(MIN_CUTOFF + BETA * np.abs(self._dx), dt)
        self._x = self._x + a * (pts - self._x)
        self._raw = pts
        return self._x.astype(np.float32)
