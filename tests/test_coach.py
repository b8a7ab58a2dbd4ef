"""The eye coach's session on a fake clock: tables of readings, every step, leaving, newcomers."""

from __future__ import annotations

from core.types import SmileKind, SmileReading
from kiosk.coach import CoachSession, Phase

BOX = (0.4, 0.2, 0.6, 0.5)


def r(score: float, eye: float) -> SmileReading:
    kind = SmileKind.NONE if score < 50 else (SmileKind.GENUINE if eye >= 50 else SmileKind.POSED)
    return SmileReading(t_ms=0.0, score=score, kind=kind, eye_engagement=eye, box=BOX, raw_score=score)


NEUTRAL, POSED, GENUINE, NOBODY = r(10, 20), r(80, 30), r(85, 68), None


def play(session: CoachSession, table: list[tuple[float, SmileReading | None]], start: float = 0.0,
         dt: float = 50.0):
    """Each row: (seconds to hold it, reading). Steps every `dt` ms; returns the phases seen
    (in order, without repeats), the last view and the clock."""
    t, phases, view = start, [], None
    for seconds, reading in table:
        end = t + seconds * 1000
        while t < end:
            view = session.step(t, reading, frame=("frame", t))
            if not phases or phases[-1] is not view.phase:
                phases.append(view.phase)
            t += dt
    return phases, view, t


def test_every_step_in_order_and_the_moment_the_eyes_get_there() -> None:
    s = CoachSession()
    phases, view, t = play(s, [(0.5, NOBODY), (2.2, NEUTRAL), (1.0, POSED)])
    assert phases == [Phase.IDLE, Phase.RELAX, Phase.SMILE, Phase.EYES]
    assert view.before is not None and view.before.score == 80 and view.before.eye == 30
    assert view.before.frame is not None, "the before moment keeps its picture (in memory)"
    phases, view, t = play(s, [(4.0, POSED)], start=t)
    assert phases == [Phase.EYES] and view.celebrate == 0 and view.cue == 1, "cues rotate every 3.5 s"
    phases, view, t = play(s, [(0.05, GENUINE)], start=t)
    assert view.celebrate > 0, "celebrated on the very reading that got there"
    phases, view, t = play(s, [(2.6, GENUINE)], start=t)
    assert phases == [Phase.EYES, Phase.RESULT]
    assert view.after.eye == 68 and view.before.eye == 30 and view.after.genuine and not view.shortcut
    phases, view, t = play(s, [(10.0, GENUINE)], start=t)
    assert phases == [Phase.RESULT, Phase.DONE], "back to the attract screen on a timeout"


def test_a_genuine_smile_at_step_two_is_the_reward_and_a_shorter_path() -> None:
    s = CoachSession()
    phases, view, t = play(s, [(2.2, NEUTRAL), (0.1, GENUINE)])
    assert view.phase is Phase.EYES and view.shortcut and view.celebrate > 0
    phases, view, t = play(s, [(2.5, NEUTRAL)], start=t)
    assert phases[-1] is Phase.RESULT and view.before.genuine and view.after.genuine
    assert t < 5200, "the whole session took about five seconds, not thirty"


def test_a_visitor_who_leaves_mid_way_resets_and_the_next_one_starts_afresh() -> None:
    s = CoachSession()
    phases, view, t = play(s, [(2.2, NEUTRAL), (1.0, POSED), (1.0, NOBODY)])
    assert view.phase is Phase.EYES, "a blink of absence does not end the session"
    phases, view, t = play(s, [(0.6, NOBODY)], start=t)
    assert view.phase is Phase.IDLE and view.before is None
    phases, view, t = play(s, [(0.5, POSED)], start=t)
    assert phases == [Phase.RELAX] and view.before is None, "the newcomer starts at the neutral moment"


def test_a_newcomer_over_the_previous_result_gets_their_own_session() -> None:
    s = CoachSession()
    phases, view, t = play(s, [(2.2, NEUTRAL), (0.1, GENUINE), (2.5, GENUINE)])
    assert view.phase is Phase.RESULT
    phases, view, t = play(s, [(2.0, NOBODY)], start=t)
    assert view.phase is Phase.RESULT, "the result stays up for whoever walks past"
    phases, view, t = play(s, [(0.2, NEUTRAL)], start=t)
    assert view.phase is Phase.RELAX


def test_a_face_that_never_smiles_reaches_a_result_without_failing() -> None:
    s = CoachSession()
    phases, view, t = play(s, [(25.0, NEUTRAL)])
    assert phases == [Phase.RELAX, Phase.SMILE, Phase.EYES, Phase.RESULT]
    assert view.before is not None and view.after is not None and not view.after.genuine
    phases, view, t = play(s, [(10.0, NEUTRAL)], start=t)
    assert phases[-1] is Phase.DONE and view.before is None, "the pictures go with the result"


def test_someone_smiling_all_the_time_still_moves_on_from_relax() -> None:
    s = CoachSession()
    phases, view, t = play(s, [(5.2, POSED)])
    assert phases == [Phase.RELAX, Phase.SMILE]


def test_someone_who_stays_after_the_result_gets_another_go() -> None:
    s = CoachSession(result_ms=1000, done_ms=2000)
    phases, view, t = play(s, [(2.2, NEUTRAL), (0.1, GENUINE), (2.5, GENUINE), (1.0, NEUTRAL), (2.1, NEUTRAL)])
    assert phases == [Phase.RELAX, Phase.SMILE, Phase.EYES, Phase.RESULT, Phase.DONE, Phase.RELAX]
