"""The newcomer-search landmarker against a simulation of MediaPipe's rule (detect on every frame
while fewer than num_faces faces are tracked), and against the real model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from core.multiface import NewcomerSearchLandmarker
from core.tracking import centre_distance


@dataclass
class Face:
    box: tuple
    t_ms: float = 0.0


class Scene:
    def __init__(self) -> None:
        self.boxes: list[tuple] = []
        self.detections = 0
        self.landmark_runs = 0


class SimulatedTask:
    """MediaPipe's VIDEO-mode behaviour in miniature: track from the last faces found; run the
    detector only when fewer than `num_faces` faces were tracked."""

    def __init__(self, scene: Scene, num_faces: int) -> None:
        self.scene, self.n, self.prev = scene, num_faces, []

    def detect(self, rgb, t_ms):
        if len(self.prev) < self.n:
            self.scene.detections += 1
            rois = self.scene.boxes[: self.n]
        else:
            rois = self.prev
        found = [b for b in self.scene.boxes if any(centre_distance(b, r) < 1.0 for r in rois)][: self.n]
        self.scene.landmark_runs += len(rois)
        self.prev = found
        return [Face(b, t_ms) for b in found]

    def close(self):
        pass


def box(cx):
    return (cx - 0.08, 0.3, cx + 0.08, 0.46)


def play(lm, scene: Scene, script: dict[int, list], frames: int, period_ms: float = 66.0) -> list[int]:
    counts = []
    for i in range(frames):
        if i in script:
            scene.boxes = script[i]
        counts.append(len(lm.detect(np.zeros((48, 64, 3), np.uint8), i * period_ms)))
    return counts


def test_one_visitor_costs_almost_no_detection() -> None:
    scene, fixed_scene = Scene(), Scene()
    adaptive = NewcomerSearchLandmarker(make=lambda n: SimulatedTask(scene, n), max_faces=4, search_ms=1000)
    fixed = SimulatedTask(fixed_scene, 4)
    script = {0: [box(0.5)]}
    assert play(adaptive, scene, script, 150) == [1] * 150
    play(fixed, fixed_scene, script, 150)
    assert fixed_scene.detections == 150           # num_faces=4 with one face: the detector every frame
    assert scene.detections <= 1 + 150 * 66 / 1000 + 1  # the first frame, then one search a second
    assert scene.landmark_runs <= 150 + 12


def test_a_group_is_picked_up_within_a_few_frames_and_followed_when_people_leave() -> None:
    scene = Scene()
    lm = NewcomerSearchLandmarker(make=lambda n: SimulatedTask(scene, n), max_faces=4, search_ms=1000)
    script = {0: [box(0.5)], 30: [box(0.2), box(0.5), box(0.8)], 80: [box(0.2), box(0.8)], 120: []}
    counts = play(lm, scene, script, 140)
    assert counts[29] == 1
    first_three = counts.index(3, 30)
    assert first_three - 30 <= 1000 / 66 + 3, counts[30:60]   # the next search, then one frame per newcomer
    assert all(c == 3 for c in counts[first_three:80])
    assert counts[80:120] == [2] * 40, "no frame loses a face when someone leaves"
    assert counts[120:] == [0] * 20
    assert lm.open_landmarkers == 4 and lm.searches > 0


@pytest.mark.parametrize("leave", range(80, 100))  # covers leaving on a search frame and between searches
def test_when_two_of_three_leave_the_one_who_stays_is_never_lost(leave: int) -> None:
    """The landmarkers for one and two faces remember people from earlier (here: someone who stood
    elsewhere), so the first run after the switch, or a search, finds nobody unless rerun."""
    scene = Scene()
    lm = NewcomerSearchLandmarker(make=lambda n: SimulatedTask(scene, n), max_faces=4, search_ms=1000)
    script = {0: [box(0.2)], 30: [box(0.2), box(0.5), box(0.8)], leave: [box(0.8)]}
    counts = play(lm, scene, script, leave + 40)
    assert counts[leave - 5:leave] == [3] * 5
    assert counts[leave:] == [1] * 40, counts[leave:leave + 10]
