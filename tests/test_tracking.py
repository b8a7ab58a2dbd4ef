"""Who is who across frames (core.tracking) and smile contagion (core.contagion): tables on a fake clock."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.contagion import Contagion
from core.tracking import FaceTracks, centre_distance, dedupe, iou, match
from core.types import SmileKind, SmileReading


@dataclass
class Obs:
    box: tuple
    score: float = 10.0


class FakeScorer:
    """Echoes the observation's score; counts its calls (one scorer per track)."""

    def __init__(self) -> None:
        self.calls = 0

    def update(self, obs, t_ms):
        self.calls += 1
        return SmileReading(t_ms=t_ms, score=obs.score, kind=SmileKind.NONE, eye_engagement=0.0, box=obs.box,
                            raw_score=obs.score)


def box(cx: float, cy: float = 0.4, w: float = 0.16) -> tuple:
    return (cx - w / 2, cy - w / 2, cx + w / 2, cy + w / 2)


@pytest.mark.parametrize("a, b, want", [
    (box(0.5), box(0.5), 0.0),
    (box(0.5), box(0.66), 1.0),          # one face width apart
    (box(0.5, w=0.2), box(0.6, w=0.1), 0.5),  # measured in the larger width
])
def test_centre_distance_is_in_face_widths(a, b, want) -> None:
    assert centre_distance(a, b) == pytest.approx(want)


@pytest.mark.parametrize("tracks, faces, want", [
    ([box(0.2), box(0.7)], [box(0.72), box(0.21)], [(0, 1), (1, 0)]),      # swapped order in the list
    ([box(0.2)], [box(0.9)], []),                                          # too far: a new person
    ([box(0.2)], [box(0.21, w=0.4)], []),                                  # size jumped: not the same face
    ([box(0.3), box(0.5)], [box(0.42)], [(1, 0)]),                         # the closer track wins
    ([box(0.3), box(0.5)], [box(0.36), box(0.44)], [(0, 0), (1, 1)]),      # closest pairs first
    ([], [box(0.5)], []),
])
def test_greedy_matching(tracks, faces, want) -> None:
    assert match(tracks, faces) == want


def test_dedupe_keeps_the_larger_of_two_overlapping_faces() -> None:
    a, b, c = Obs(box(0.5, w=0.2)), Obs(box(0.51, w=0.18)), Obs(box(0.8))
    assert dedupe([b, c, a]) == [a, c]
    assert iou(a.box, a.box) == pytest.approx(1.0)


def test_people_keep_their_ids_and_scores_while_they_move_and_cross_the_list_order() -> None:
    tracks = FaceTracks(max_faces=4, scorer=FakeScorer)
    out = tracks.update([Obs(box(0.25), 20), Obs(box(0.75), 90)], 0)
    ids = {round(t.box[0] + 0.08, 2): t.id for t in out}
    assert sorted(ids.values()) == [1, 2]
    left, right = ids[0.25], ids[0.75]
    x_left, x_right = 0.25, 0.75
    for step in range(1, 20):  # both drift toward the middle; the list order flips each frame
        x_left += 0.01
        x_right -= 0.01
        faces = [Obs(box(x_left), 20), Obs(box(x_right), 90)]
        out = tracks.update(faces[::-1] if step % 2 else faces, step * 66)
        by_id = {t.id: t for t in out}
        assert set(by_id) == {left, right}
        assert by_id[left].reading.score == 20 and by_id[right].reading.score == 90
    assert tracks.started == 2


@pytest.mark.parametrize("gap_ms, same", [(300, True), (650, True), (800, False)])
def test_grace_before_a_lost_track_is_dropped(gap_ms, same) -> None:
    tracks = FaceTracks(grace_ms=700, scorer=FakeScorer)
    first = tracks.update([Obs(box(0.5))], 0)[0].id
    during = tracks.update([], gap_ms / 2)
    assert [t.seen for t in during] == [False] and during[0].reading is not None  # held, shown as last seen
    again = tracks.update([Obs(box(0.52))], gap_ms)
    assert (again[0].id == first) is same and len(again) == 1


def test_at_most_max_faces_tracks_largest_first() -> None:
    tracks = FaceTracks(max_faces=2, scorer=FakeScorer)
    out = tracks.update([Obs(box(0.2, w=0.2)), Obs(box(0.5, w=0.15)), Obs(box(0.8, w=0.1))], 0)
    assert len(out) == 2 and {round(t.box[2] - t.box[0], 2) for t in out} == {0.2, 0.15}


def test_a_newcomer_takes_the_slot_of_a_track_in_its_grace() -> None:
    tracks = FaceTracks(max_faces=2, grace_ms=700, scorer=FakeScorer)
    left, right = (t.id for t in tracks.update([Obs(box(0.2)), Obs(box(0.5))], 0))
    tracks.update([Obs(box(0.2))], 100)                          # right unseen: in its grace
    out = tracks.update([Obs(box(0.2)), Obs(box(0.8), score=90)], 200)  # a newcomer, all slots taken
    assert [(t.id, t.seen) for t in out] == [(left, True), (right + 1, True)]
    assert out[1].reading.score == 90
    assert tracks.update([Obs(box(0.2)), Obs(box(0.8))], 300)[1].id == right + 1, "the newcomer keeps its id"


def test_each_track_has_its_own_scorer() -> None:
    made: list[FakeScorer] = []

    def factory() -> FakeScorer:
        made.append(FakeScorer())
        return made[-1]

    tracks = FaceTracks(scorer=factory)
    for t in range(5):
        tracks.update([Obs(box(0.2)), Obs(box(0.8))], t * 100)
    assert [s.calls for s in made] == [5, 5]


# ---- contagion ------------------------------------------------------------------------------

def run(timeline: list[tuple[float, dict[int, bool]]], **kw) -> tuple[Contagion, list]:
    c = Contagion(**kw)
    steps = [(t, c.update(t, state)) for t, state in timeline]
    return c, steps


def test_a_smile_followed_within_the_window_is_a_link() -> None:
    c, steps = run([(0, {1: False, 2: False}), (1000, {1: True, 2: False}), (2500, {1: True, 2: True})])
    links = [l for _, s in steps for l in s.links]
    assert [(l.source, l.target, l.delay_ms, l.chain, l.length) for l in links] == [(1, 2, 1500, 1, 2)]
    assert c.chains_total == 1 and c.links_total == 1 and c.onsets_total == 2


@pytest.mark.parametrize("delay_ms, linked", [(100, False), (299, False), (300, True), (2999, True), (3000, True),
                                              (3200, False)])
def test_the_contagion_window(delay_ms, linked) -> None:
    c, _ = run([(0, {1: False, 2: False}), (1000, {1: True, 2: False}), (1000 + delay_ms, {1: True, 2: True})])
    assert c.links_total == int(linked)


def test_no_link_when_the_first_smile_has_ended() -> None:
    c, _ = run([(0, {1: False, 2: False}), (500, {1: True, 2: False}), (1000, {1: False, 2: False}),
                (1500, {1: False, 2: True})])
    assert c.links_total == 0


def test_a_chain_of_three_then_a_new_chain() -> None:
    F, T = False, True
    c, steps = run([
        (0, {1: F, 2: F, 3: F}),
        (1000, {1: T, 2: F, 3: F}),
        (2000, {1: T, 2: T, 3: F}),   # 1 -> 2
        (3500, {1: F, 2: T, 3: T}),   # 2 -> 3: the same chain
        (6000, {1: F, 2: F, 3: F}),   # everybody stops: the chain ends
        (7000, {1: F, 2: F, 3: T}),
        (8000, {1: T, 2: F, 3: F}),   # 3 had stopped: no link
        (9000, {1: T, 2: T, 3: F}),   # 1 -> 2: a new chain
    ])
    links = [(l.source, l.target, l.chain, l.length) for _, s in steps for l in s.links]
    assert links == [(1, 2, 1, 2), (2, 3, 1, 3), (1, 2, 2, 2)]
    assert c.chains_total == 2 and c.longest_chain == 3


def test_the_most_recent_smiler_is_the_source() -> None:
    F, T = False, True
    _, steps = run([(0, {1: F, 2: F, 3: F}), (1000, {1: T, 2: F, 3: F}), (1800, {1: T, 2: T, 3: F}),
                    (2600, {1: T, 2: T, 3: T})])
    assert [(l.source, l.target) for _, s in steps for l in s.links] == [(1, 2), (2, 3)]


def test_arriving_smiling_is_no_onset_and_leaving_forgets() -> None:
    c, _ = run([(0, {1: True}), (1000, {1: True, 2: False}), (1500, {1: True, 2: True}),
                (2000, {2: True}), (2500, {1: False, 2: True})])
    assert c.onsets_total == 1 and c.links_total == 0


def test_everybody_smiling_is_celebrated_once_per_cooldown() -> None:
    F, T = False, True
    _, steps = run([
        (0, {1: F, 2: F}), (1000, {1: T, 2: F}), (2000, {1: T, 2: T}),   # celebrate
        (2500, {1: T, 2: T}),                                            # still all smiling: no repeat
        (3000, {1: F, 2: T}), (4000, {1: T, 2: T}),                      # again, inside the cooldown
        (12000, {1: F, 2: T}), (13000, {1: T, 2: T}),                    # after the cooldown
        (20000, {1: T}),                                                 # one person alone: never
    ], celebrate_cooldown_ms=8000)
    assert [t for t, s in steps if s.celebration] == [2000, 13000]


def test_a_face_whose_box_jumps_in_size_keeps_its_one_track() -> None:
    """A newcomer found by the detector, then tracked by the landmarker: the box can change size
    past the gate in one step. Still one person, one track, one id."""
    tracks = FaceTracks(scorer=FakeScorer)
    first = tracks.update([Obs(box(0.5, w=0.16), 20)], 0)
    out = tracks.update([Obs(box(0.51, w=0.31), 20)], 66)   # 1.94x the width: fails the size gate
    assert [t.id for t in out] == [first[0].id] and tracks.started == 1
    out = tracks.update([Obs(box(0.52, w=0.30), 20)], 133)
    assert len(out) == 1 and out[0].seen


def test_two_people_side_by_side_are_never_merged() -> None:
    tracks = FaceTracks(scorer=FakeScorer)
    tracks.update([Obs(box(0.3)), Obs(box(0.5))], 0)            # neighbours, a face width apart
    out = tracks.update([Obs(box(0.3))], 66)                     # one blinks: kept in its grace
    out = tracks.update([Obs(box(0.3)), Obs(box(0.5))], 133)
    assert sorted(t.id for t in out) == [1, 2] and tracks.started == 2


def test_a_leftover_track_over_a_seen_one_is_merged() -> None:
    """However a second track came about, one that waits in its grace where a seen track now
    is goes: the screen never counts one person twice."""
    tracks = FaceTracks(scorer=FakeScorer)
    left, right = (t.id for t in tracks.update([Obs(box(0.30)), Obs(box(0.45))], 0))
    out = tracks.update([Obs(box(0.38))], 66)  # one face between them, nearer the right track
    assert [(t.id, t.seen) for t in out] == [(right, True)]


@pytest.mark.parametrize("a, b, same", [
    (box(0.5), box(0.5, w=0.3), True),      # one face, the box grew
    (box(0.5), box(0.56), True),             # moved less than half a width
    (box(0.5), box(0.66), False),            # a neighbour a face width away
])
def test_same_place(a, b, same) -> None:
    from core.tracking import same_place

    assert same_place(a, b) is same


def test_slow_results_do_not_end_a_track() -> None:
    """A loaded device scoring every 800 ms: the face was there in every result, so it is the
    same person, though more than the grace passed between two results."""
    tracks = FaceTracks(grace_ms=700, scorer=FakeScorer)
    ids = {t.id for step in range(6) for t in tracks.update([Obs(box(0.5 + 0.01 * step))], step * 800)}
    assert ids == {1} and tracks.started == 1
    tracks.update([], 4800)
    assert tracks.update([Obs(box(0.55))], 5600)[0].id == 2, "a face missing for longer than the grace is new"
