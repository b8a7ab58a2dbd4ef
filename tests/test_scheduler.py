"""The frame-skipping scheduler, on a fake clock."""

from __future__ import annotations

import numpy as np

from core.scheduler import Scheduler


def run(s: Scheduler, *, seconds: float, fps: float = 30.0, infer_ms: float = 8.0, face: bool = True,
        rate: float = 0.0, frame=None, start_ms: float = 0.0) -> int:
    """Offer `seconds` of frames at `fps`; inference finishes before the next frame."""
    scored = 0
    for i in range(int(seconds * fps)):
        now = start_ms + i * 1000.0 / fps
        if s.offer(now, busy=False, rgb=frame):
            scored += 1
            s.observe(infer_ms, face, rate)
    return scored


def test_every_frame_while_a_smile_changes() -> None:
    s = Scheduler(score_hz=15, idle_hz=4, max_cpu=0.5)
    s.observe(8.0, True, 80.0)
    assert run(s, seconds=2, rate=80.0) == 60


def test_score_hz_while_the_face_holds_still() -> None:
    s = Scheduler(score_hz=15, idle_hz=4)
    assert 29 <= run(s, seconds=2, rate=0.0) <= 31


def test_idle_rate_when_nobody_is_there_and_nothing_moves() -> None:
    s = Scheduler(score_hz=15, idle_hz=4)
    still = np.full((48, 64, 3), 90, np.uint8)
    assert 7 <= run(s, seconds=2, face=False, frame=still) <= 9


def test_motion_wakes_an_idle_mirror_at_once() -> None:
    s = Scheduler(score_hz=15, idle_hz=1)
    still = np.full((48, 64, 3), 90, np.uint8)
    run(s, seconds=1, face=False, frame=still)
    moved = still.copy()
    moved[:, :32] = 220  # someone steps in
    assert s.offer(1000.0 + 40.0, busy=False, rgb=moved)


def test_cpu_budget_caps_the_rate() -> None:
    s = Scheduler(score_hz=30, max_cpu=0.25)
    s.observe(20.0, True, 100.0)  # slow CPU: 20 ms per inference, 25% budget -> >= 80 ms apart
    scored = run(s, seconds=3, infer_ms=20.0, rate=100.0)
    assert scored == 30  # at 30 fps the first frame >= 80 ms later is every third one


def test_busy_worker_means_skip_and_count_never_queue() -> None:
    s = Scheduler()
    assert s.offer(0.0, busy=False)
    assert not s.offer(33.0, busy=True)
    assert not s.offer(66.0, busy=True)
    assert s.stats.skipped_busy == 2 and s.stats.submitted == 1 and s.stats.offered == 3


def test_a_timed_trial_scores_every_frame_over_the_cpu_budget_but_never_a_busy_worker() -> None:
    """A contagion trial's window: every frame, even when inference costs more than the budget
    allows (the budget would give 7.5 Hz here); a frame that arrives mid-inference is skipped."""
    s = Scheduler(score_hz=15, idle_hz=4, max_cpu=0.5)
    s.observe(30.0, True, 0.0)
    scored = sum(s.offer(i * 1000.0 / 30, busy=False, every_frame=True) for i in range(60))
    assert scored == 60
    assert run(s, seconds=2, infer_ms=30.0) <= 16, "without the trial the budget holds again"
    assert not s.offer(5000.0, busy=True, every_frame=True) and s.stats.skipped_busy == 1


def test_the_cpu_budget_counts_every_inference_thread() -> None:
    one, two = Scheduler(max_cpu=0.5), Scheduler(max_cpu=0.5, threads=2)
    for s in (one, two):
        s.observe(40.0, face=True, score_rate=100.0)  # a changing smile: only the budget limits
    assert one.period_ms() == 80.0 and two.period_ms() == 160.0


def test_a_slow_first_inference_does_not_hold_back_the_next_readings() -> None:
    """A landmarker's first call (its graph starting) took 1,780 ms where a tracked frame takes
    15: averaged in, it spaced readings seconds apart (6 readings in 10 s of group mode)."""
    s = Scheduler(score_hz=15, idle_hz=4, max_cpu=0.5)
    assert s.offer(0.0, busy=False)
    s.observe(1780.0, True, 0.0)
    assert s.infer_ms == 1780.0, "until a cheaper one arrives, the slow reading is all it knows"
    now = 1780.0 * 2 + 1  # the budget's gap after the slow one
    assert s.offer(now, busy=False)
    s.observe(15.0, True, 0.0)
    assert s.infer_ms == 15.0
    assert 29 <= run(s, seconds=2, infer_ms=15.0, start_ms=now + 34) <= 31, "back to the score rate at once"
    s.observe(40.0, True, 0.0)
    assert 15.0 < s.infer_ms < 40.0, "a dearer reading is still averaged in"
