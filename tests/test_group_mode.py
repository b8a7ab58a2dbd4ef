"""Group mode's counts (kiosk.group) on a fake clock and a fake scorer: what goes into the
anonymous statistics must agree with the screen and with contagion's notion of a smile onset."""

from __future__ import annotations

from pathlib import Path

from core.tracking import FaceTracks
from kiosk.group import Group
from kiosk.group_stats import GroupStats
from tests.test_tracking import FakeScorer, Obs, box

HOUR = "2025-06-01T14:00+0200"
A, B, C = box(0.2), box(0.5), box(0.8)


def play(tmp_path: Path, timeline: list[tuple[float, list[Obs]]]) -> tuple[Group, dict[str, int]]:
    """Each (from t_ms, faces) is held, a frame every 100 ms, until the next one (the last: one frame)."""
    stats = GroupStats(tmp_path, hour=lambda: HOUR, clock=lambda: 0.0)
    group = Group(stats=stats, tracks=FaceTracks(scorer=FakeScorer))
    for (start, faces), (end, _) in zip(timeline, [*timeline[1:], (timeline[-1][0] + 1, [])]):
        for t in range(int(start), int(end), 100):
            group.observe(faces, t)
    return group, stats.hours.get(HOUR, {})


def test_a_chain_that_links_the_same_people_again_is_counted_once(tmp_path: Path) -> None:
    group, row = play(tmp_path, [
        (0, [Obs(A, 10), Obs(B, 10)]),
        (1000, [Obs(A, 80), Obs(B, 10)]),
        (2000, [Obs(A, 80), Obs(B, 80)]),   # B follows A: a chain of two
        (2500, [Obs(A, 80), Obs(B, 10)]),
        (3500, [Obs(A, 80), Obs(B, 80)]),   # B again, A still smiling: the same chain, linked again
    ])
    assert row["links"] == 2
    assert row["chains"] == group.view(3500).chains == 1


def test_smiles_are_onsets_not_people_arriving_with_a_smile(tmp_path: Path) -> None:
    group, row = play(tmp_path, [
        (0, [Obs(A, 10)]),
        (500, [Obs(A, 80)]),                 # an onset
        (1000, [Obs(A, 80), Obs(C, 90)]),    # arrives smiling: no onset
        (1500, [Obs(A, 80), Obs(C, 90)]),
    ])
    assert row["smiles"] == group.smiles == group.contagion.onsets_total == 1


def test_a_gauge_goes_within_200_ms_of_its_face_leaving() -> None:
    """Results every 66 ms (15 scores/s); the right person leaves at 1000 ms. Tracks wait in
    their grace (700 ms), but the screen shows only faces seen within SHOW_MS."""
    group = Group(tracks=FaceTracks(scorer=FakeScorer))
    t = 0
    while t < 1000:
        group.observe([Obs(A, 80), Obs(B, 80)], t)
        t += 66
    gone = None
    for now in range(1000, 1800, 10):  # the display runs faster than the scorer
        if now >= t:
            group.observe([Obs(A, 80)], t)
            t += 66
        view = group.view(now)
        if gone is None and view.present == 1:
            gone = now
        if gone is not None:
            assert view.present == 1 and view.smiling == 1 and len(view.faces) == 1, "and it stays gone"
        if now == 1300:
            assert len(group.faces) == 2, "the track itself waits in its grace (an id survives a blink)"
    assert gone is not None and gone - 1000 <= 200


def test_a_detector_blink_keeps_the_gauge() -> None:
    group = Group(tracks=FaceTracks(scorer=FakeScorer))
    for t in range(0, 1000, 66):
        group.observe([Obs(A, 80), Obs(B, 10)] if t != 594 else [Obs(A, 80)], t)  # B missed once
        assert group.view(t + 30).present == 2


def test_a_slow_scorer_keeps_a_present_face() -> None:
    """On a device scoring 4 times a second, a face seen in the latest result stays shown."""
    group = Group(tracks=FaceTracks(scorer=FakeScorer))
    for t in range(0, 2000, 250):
        group.observe([Obs(A, 80)], t)
        assert all(group.view(now).present == 1 for now in range(t, t + 250, 25))
    group.observe([], 2000)
    assert group.view(2010).present == 0, "the first result without the face takes its gauge"
