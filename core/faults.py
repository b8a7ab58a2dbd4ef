"""Fault injection, shipped like gpiozero's mock pins: real sources and landmarkers wrapped so
that they fail on cue. Tests and the soak use the same code paths as the kiosk.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from core.errors import SourceError
from core.landmarker import Landmarker
from core.sources.base import FrameSource
from core.types import FaceObservation, Frame

GARBAGE = {
    "wrong_size": lambda rgb: rgb[:8, :8],
    "wrong_dtype": lambda rgb: rgb.astype(np.float32),
    "grey": lambda rgb: rgb[:, :, 0],
    "rgba": lambda rgb: np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]),
    "black": lambda rgb: np.zeros_like(rgb),
    "noise": lambda rgb: np.random.default_rng(0).integers(0, 256, rgb.shape, dtype=np.uint8),
}


DEVICE_FAULTS = ("unplug", "none", "crash", "hang")


class FaultySource(FrameSource):
    """Wraps a source; `script` maps a frame number (1-based, counted over this object's life)
    to a fault: "unplug" (read raises SourceError), "none" (read returns nothing after the
    device stalls for `stall_s`), "crash" (read raises an error that is not ours, as a driver
    binding might), "hang" (read blocks, as a wedged driver does, until `release()`; then it
    raises SourceError), or a GARBAGE name (the frame is replaced by garbage).
    `live=True` makes it behave as a camera whatever it wraps. `closed` records close()."""

    def __init__(self, inner: FrameSource, script: dict[int, str], *, stall_s: float = 0.0,
                 live: bool | None = None) -> None:
        unknown = set(script.values()) - set(GARBAGE) - set(DEVICE_FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {DEVICE_FAULTS + tuple(GARBAGE)}")
        self.inner, self.script, self.stall_s = inner, dict(script), stall_s
        self.name, self.live, self.realtime = f"faulty:{inner.name}", inner.live, inner.realtime
        if live is not None:
            self.live = live
        self.count = 0
        self.closed = False
        self.fired: list[tuple[int, str, float]] = []  # (read number, fault, time.monotonic())
        self.hanging = threading.Event()   # set while a read is stuck in "hang"
        self._release = threading.Event()

    def read(self) -> Frame | None:
        self.count += 1
        fault = self.script.get(self.count)
        if fault is not None:
            self.fired.append((self.count, fault, time.monotonic()))
        if fault == "unplug":
            raise SourceError(f"{self.inner.name} was unplugged (injected)")
        if fault == "crash":
            raise RuntimeError(f"{self.inner.name} driver crashed (injected)")
        if fault == "none":
            time.sleep(self.stall_s)
            return None
        if fault == "hang":
            self.hanging.set()
            self._release.wait()
            self.hanging.clear()
            raise SourceError(f"{self.inner.name} hung (injected) and was released")
        frame = self.inner.read()
        if frame is None or fault is None:
            return frame
        return Frame(rgb=GARBAGE[fault](frame.rgb), t_ms=frame.t_ms, index=frame.index)

    def release(self) -> None:
        """Unblock a read stuck in "hang" (test clean-up; a real wedged driver never returns)."""
        self._release.set()

    def close(self) -> None:
        self.closed = True
        self.inner.close()


@dataclass
class FlakyOpener:
    """A source factory whose device is absent for the first `absent` attempts (a camera not yet
    plugged in), then opens; every open is recorded. Pass it where a factory is expected."""

    open: Callable[[], FrameSource]
    absent: int = 0
    attempts: int = 0
    opened: list[FrameSource] = field(default_factory=list)

    def __call__(self) -> FrameSource:
        self.attempts += 1
        if self.attempts <= self.absent:
            raise SourceError("no camera is connected (injected)")
        source = self.open()
        self.opened.append(source)
        return source


class FaultyLandmarker:
    """Wraps a landmarker and raises on every `every`-th call (or on the calls listed)."""

    def __init__(self, inner: Landmarker, every: int = 0, calls: tuple[int, ...] = ()) -> None:
        self.inner, self.every, self.calls = inner, every, set(calls)
        self.count = 0

    def detect(self, rgb: np.ndarray, t_ms: float) -> list[FaceObservation]:
        self.count += 1
        if (self.every and self.count % self.every == 0) or self.count in self.calls:
            raise RuntimeError(f"injected landmarker failure on call {self.count}")
        return self.inner.detect(rgb, t_ms)

    def close(self) -> None:
        self.inner.close()
