"""Small time-domain transforms for the displayed reading (in the spirit of gpiozero's tools.py).

The raw score jitters with landmark noise from frame to frame; a moving average would make it
steady but late. The One Euro filter (Casiez, Roussel & Vogel, CHI 2012) is a low-pass filter
whose cut-off rises with the signal's speed: a still face gets heavy smoothing, a smile that
starts gets through almost at once. The smile kind is a category, so it gets hysteresis
instead: a new kind must hold for a while before the display switches to it.
"""

from __future__ import annotations

import math
from typing import Generic, TypeVar


K = TypeVar("K")


def _alpha(cutoff_hz: float, dt_s: float) -> float:
    """Smoothing factor of a first-order low-pass with this cut-off for a step of dt."""
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """One Euro filter on a scalar sampled at irregular times (milliseconds).

    `min_cutoff` (Hz) sets the smoothing of a still signal (lower = steadier); `beta` sets how
    fast the cut-off grows with speed (higher = less lag on fast changes); `d_cutoff` (Hz)
    smooths the speed estimate itself.
    """

    def __init__(self, *, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("min_cutoff and d_cutoff must be > 0 and beta >= 0")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        self._x: float | None = None
        self._dx = 0.0
        self._t: float | None = None

    @property
    def value(self) -> float | None:
        return self._x

    def __call__(self, x: float, t_ms: float) -> float:
        if self._x is None or self._t is None:
            self._x, self._t, self._dx = float(x), float(t_ms), 0.0
            return self._x
        dt = (t_ms - self._t) / 1000.0
        if dt <= 0:  # same or older timestamp: nothing new to learn about speed
            return self._x
        self._t = float(t_ms)
        dx = (x - self._x) / dt
        self._dx += _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * abs(self._dx)
        self._x += _alpha(cutoff, dt) * (x - self._x)
        return self._x


class Hysteresis(Generic[K]):
    """Holds a category until a different one has been proposed continuously for `hold_ms`.

    Stops the kind flickering between "genuine" and "posed" when the eye reading sits near its
    threshold. The first proposal is taken at once (nothing to hold yet).
    """

    def __init__(self, *, hold_ms: float = 250.0) -> None:
        self.hold_ms = hold_ms
        self.reset()

    def reset(self) -> None:
        self._state: K | None = None
        self._candidate: K | None = None
        self._since = 0.0

    @property
    def state(self) -> K | None:
        return self._state

    def __call__(self, proposed: K, t_ms: float) -> K:
        if self._state is None or proposed == self._state:
            self._state, self._candidate = proposed, None
            return proposed
        if proposed != self._candidate:
            self._candidate, self._since = proposed, t_ms
        if t_ms - self._since >= self.hold_ms:
            self._state, self._candidate = proposed, None
        return self._state


def band(value: float, previous: bool, *, on: float, off: float) -> bool:
    """Two-threshold switch: turns on at >= `on`, off only below `off` (off < on)."""
    return value >= off if previous else value >= on
