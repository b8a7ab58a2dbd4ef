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
