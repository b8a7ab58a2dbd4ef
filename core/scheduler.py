"""The one place that decides which frames are scored.

Pure logic, driven by the caller's clock so tests use a fake one. The rate follows what the
visitor is doing: full rate while a smile is changing, lower while the face holds still, low
while nobody is there (but at once when something moves, so a new visitor is answered fast).
Rates: every frame while a smile is changing, `score_hz` while a face holds still, `idle_hz`
while nobody is there. A CPU budget caps all of them from the measured inference time, and a
frame is never queued: if the worker is busy, the frame is skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.motion import change, thumbnail


WARM_UP_DROP = 0.25  # a reading under this share of the estimate replaces it (a warm-up has ended)


@dataclass(slots=True)
class SchedulerStats:
    offered: int = 0      # frames the scheduler saw
    submitted: int = 0    # frames sent to the landmarker
    skipped_busy: int = 0  # dropped because inference was still running
    skipped_rate: int = 0  # dropped by the rate / CPU budget


@dataclass(slots=True)
class Scheduler:
    score_hz: float = 15.0
    idle_hz: float = 4.0
    max_cpu: float = 0.5
    threads: int = 1             # inference threads: each may keep a core busy, so the budget counts all
    change_per_s: float = 20.0   # score points/s above which a smile counts as changing
    motion_threshold: float = 6.0  # mean abs grey-level change (0-255) of the motion thumbnail
    stats: SchedulerStats = field(default_factory=SchedulerStats)
    infer_ms: float = 0.0        # exponential moving average of measured inference time
    _last_submit_ms: float = field(default=-1e12)
    _face: bool = False
    _changing: bool = True
    _thumb: np.ndarray | None = None

    def period_ms(self) -> float:
        """The wanted gap between scored frames, after the CPU budget."""
        budget_ms = self.infer_ms * self.threads / self.max_cpu if self.infer_ms > 0 else 0.0
        if self._face and self._changing:
            return budget_ms
        return max(1000.0 / (self.score_hz if self._face else self.idle_hz), budget_ms)

    def offer(self, now_ms: float, busy: bool, rgb: np.ndarray | None = None, *, every_frame: bool = False) -> bool:
        """Should this frame be scored? Counts the answer. `every_frame` (a timed trial) lifts
        the rate and the CPU budget: only a busy worker skips a frame then."""
        self.stats.offered += 1
        if busy:
            self.stats.skipped_busy += 1
            return False
        due = every_frame or now_ms - self._last_submit_ms >= self.period_ms() - 0.5
        if not due and not self._face and rgb is not None and self._moved(rgb):
            due = now_ms - self._last_submit_ms >= self.infer_ms * self.threads / self.max_cpu
        if not due:
            self.stats.skipped_rate += 1
            return False
        self._last_submit_ms = now_ms
        self.stats.submitted += 1
        if rgb is not None and not self._face:
            self._thumb = thumbnail(rgb)
        return True

    def observe(self, infer_ms: float, face: bool, score_rate: float = 0.0) -> None:
        """Feed back one finished inference: its cost, whether a face was there, and how fast
        the raw score is moving (points per second)."""
        if self.infer_ms == 0 or infer_ms < self.infer_ms * WARM_UP_DROP:
            # the first reading, or the end of a one-off: a landmarker's first call (model and
            # graph start, a face-count landmarker made on demand) costs 50-100x a tracked frame,
            # and averaged in it would space the readings seconds apart for dozens of readings
            self.infer_ms = infer_ms
        else:
            self.infer_ms = 0.8 * self.infer_ms + 0.2 * infer_ms
        self._face = face
        self._changing = abs(score_rate) >= self.change_per_s

    def _moved(self, rgb: np.ndarray) -> bool:
        if self._thumb is None:
            return True
        return float(change(self._thumb, thumbnail(rgb)).mean()) >= self.motion_threshold
