"""The photo booth trigger on a fake clock: hold, countdown, one photo per smile, cooldown."""

from __future__ import annotations

import pytest

from core.types import SmileKind, SmileReading
from kiosk.booth import BoothTrigger, Phase


def reading(score: float, kind: SmileKind = SmileKind.POSED) -> SmileReading:
    return SmileReading(t_ms=0, score=score, kind=kind, eye_engagement=0, box=(0, 0, 1, 1), raw_score=score)


def play(trigger: BoothTrigger, scores: list[tuple[float, float]], kind: SmileKind = SmileKind.POSED,
         step_ms: float = 33.0) -> list[float]:
    """Feed (duration_ms, score) segments; return the times at which a photo was shot."""
    shots, t = [], 0.0
    for duration, score in scores:
        end = t + duration
        while t < end:
            status = trigger.step(t, None if score < 0 else reading(score, kind))
            if status.shoot:
                shots.append(t)
            t += step_ms
    return shots


def test_a_held_smile_fires_once_after_the_hold() -> None:
    shots = play(BoothTrigger(hold_ms=400), [(1000, 10), (6000, 85)])
    assert len(shots) == 1 and 1000 + 400 <= shots[0] <= 1000 + 400 + 2 * 33


def test_a_passing_grin_does_not_fire() -> None:
    assert play(BoothTrigger(hold_ms=400), [(500, 10), (300, 90), (500, 10)] * 5) == []


def test_two_smiles_give_two_photos_after_cooldown() -> None:
    t = BoothTrigger(hold_ms=400, review_ms=2000, cooldown_ms=1000)
    assert len(play(t, [(1000, 10), (2000, 85), (2500, 10), (2000, 85), (1000, 10)])) == 2


def test_one_long_smile_gives_one_photo() -> None:
    t = BoothTrigger(hold_ms=400, review_ms=1000, cooldown_ms=500)
    assert len(play(t, [(500, 10), (20000, 90)])) == 1


@pytest.mark.parametrize("sensitivity, score, fires", [
    ("low", 75, False), ("low", 85, True), ("medium", 60, False), ("medium", 70, True), ("high", 52, True),
])
def test_sensitivity(sensitivity: str, score: float, fires: bool) -> None:
    assert bool(play(BoothTrigger(sensitivity=sensitivity), [(3000, score)])) is fires


def test_genuine_only() -> None:
    t = BoothTrigger(require_genuine=True)
    assert play(t, [(3000, 95)], kind=SmileKind.POSED) == []
    assert len(play(BoothTrigger(require_genuine=True), [(3000, 95)], kind=SmileKind.GENUINE)) == 1


def test_countdown_counts_three_two_one_then_shoots() -> None:
    t = BoothTrigger(hold_ms=300, countdown_s=3, settle_ms=0)
    seen, shot_at = [], None
    for i in range(200):
        status = t.step(i * 33.0, reading(90))
        if status.phase is Phase.COUNTDOWN and (not seen or seen[-1] != status.countdown):
            seen.append(status.countdown)
        if status.shoot:
            shot_at = i * 33.0
            break
    assert seen == [3, 2, 1] and shot_at is not None and 3300 <= shot_at <= 3400


def test_building_progress_rises_to_one() -> None:
    t = BoothTrigger(hold_ms=400, settle_ms=0)
    progress = [t.step(ms, reading(90)).progress for ms in (0, 100, 200, 300)]
    assert progress == sorted(progress) and progress[0] == 0 and 0.7 <= progress[-1] < 1


def test_the_config_default_is_a_three_second_countdown() -> None:
    from core.config import BoothConfig

    assert BoothConfig().countdown == 3


def test_a_newcomer_must_be_in_view_a_moment_before_a_smile_counts() -> None:
    """The first readings of a visitor (the model just loaded, the smoothing starting) never fire."""
    t = BoothTrigger(hold_ms=400, settle_ms=600)
    shots = play(t, [(300, -1), (3000, 90)])  # nobody, then a visitor who arrives smiling
    assert len(shots) == 1 and 300 + 600 + 400 <= shots[0] <= 300 + 600 + 400 + 3 * 33
    t = BoothTrigger(hold_ms=400, settle_ms=600)
    assert play(t, [(300, -1), (500, 90), (1500, -1)]) == [], "a visitor passing by smiling gives no photo"


def test_a_blink_of_the_detector_does_not_restart_the_settling() -> None:
    t = BoothTrigger(hold_ms=400, settle_ms=600, leave_ms=1000)
    shots = play(t, [(400, 10), (100, -1), (3000, 90)])  # present since 0; one missed reading
    assert len(shots) == 1 and shots[0] <= 600 + 400 + 2 * 33, "settled at 600 ms, not 600 ms after the blink"


def test_a_countdown_is_called_off_when_the_guest_walks_away() -> None:
    t = BoothTrigger(hold_ms=300, countdown_s=3, settle_ms=0, leave_ms=1000)
    assert play(t, [(500, 10), (800, 90), (4000, -1)]) == []
    assert t.phase is Phase.ARMED


def test_the_guest_may_stop_smiling_during_the_countdown() -> None:
    """The countdown is the guest's cue: the photo comes whatever their face does meanwhile."""
    t = BoothTrigger(hold_ms=300, countdown_s=3, settle_ms=0)
    assert len(play(t, [(500, 10), (400, 90), (4000, 30)])) == 1


def test_after_a_photo_the_booth_says_it_waits_for_the_smile_to_end() -> None:
    t = BoothTrigger(hold_ms=300, review_ms=1000, cooldown_ms=500, settle_ms=0)
    seen = []
    for i in range(300):
        ms = i * 33.0
        score = 90 if ms < 4000 else 20  # one long smile, then relaxed
        s = t.step(ms, reading(score))
        seen.append((ms, s.phase, s.rearm))
    shot = next(ms for ms, phase, _ in seen if phase is Phase.REVIEW)
    assert not any(r for ms, _, r in seen if ms < shot), "before the first photo nothing waits"
    waiting = [ms for ms, phase, r in seen if r and phase is Phase.ARMED]
    assert waiting and min(waiting) >= shot + 1500 and max(waiting) < 4000, \
        "armed again but waiting, until the score drops"
    assert all(not r for ms, _, r in seen if ms >= 4000)
