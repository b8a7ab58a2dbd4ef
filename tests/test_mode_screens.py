"""Coach and contagion screens rendered at the kiosk sizes, text measured from the rendered
glyphs (digits >= 8% of the screen height, verdicts >= 5%, every visitor line >= 3%)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.types import SmileKind, SmileReading
from kiosk.coach import CoachView, Moment, Phase as CoachPhase
from kiosk.display import RecordingDisplay
from kiosk.experiment import Outcome, Phase
from kiosk.experiment_stats import ExperimentStats
from kiosk.modes.coach import CoachMode
from kiosk.modes.contagion import ContagionMode, ContagionView
from kiosk.experiment import Trial
from kiosk.render import Renderer
from kiosk.stimulus import DUCHENNE, MOUTH_ONLY, DrawnFace
from kiosk.view import Screen, View
from tests.test_screens import assert_readable

SIZES = [(1920, 1080), (1280, 720), (1080, 1920)]
BOX = (0.38, 0.1, 0.62, 0.5)
SHOTS = os.environ.get("SMILE_MIRROR_SHOTS")  # a folder to keep the PNGs in for looking at


def reading(score: float, eye: float) -> SmileReading:
    kind = SmileKind.NONE if score < 50 else (SmileKind.GENUINE if eye >= 50 else SmileKind.POSED)
    return SmileReading(t_ms=0.0, score=score, kind=kind, eye_engagement=eye, box=BOX, raw_score=score)


def coach_screens(frame: np.ndarray) -> dict[str, View]:
    before, after = Moment(1.0, 78, 31, frame), Moment(2.0, 84, 66, frame)
    return {
        "coach-attract": View(Screen.ATTRACT, frame, None, t_ms=300.0, mode=CoachView(CoachPhase.IDLE)),
        "coach-relax": View(Screen.MIRROR, frame, reading(12, 8), mode=CoachView(CoachPhase.RELAX, 0.4)),
        "coach-smile": View(Screen.MIRROR, frame, reading(70, 30), mode=CoachView(CoachPhase.SMILE, 0.3, score=70)),
        "coach-eyes": View(Screen.MIRROR, frame, reading(80, 38),
                           mode=CoachView(CoachPhase.EYES, 0.3, 1, 38, 80, before=before)),
        "coach-reached": View(Screen.MIRROR, frame, reading(84, 66),
                              mode=CoachView(CoachPhase.EYES, 0.5, 1, 66, 84, before=before, celebrate=0.3)),
        "coach-result": View(Screen.MIRROR, frame, reading(84, 66),
                             mode=CoachView(CoachPhase.RESULT, 0.2, before=before, after=after)),
        "coach-result-flat": View(Screen.MIRROR, frame, None,
                                  mode=CoachView(CoachPhase.RESULT, 0.2, before=before, after=Moment(3, 60, 28, frame))),
    }


def contagion_screens(frame: np.ndarray, today: str, few: str) -> dict[str, View]:
    d = DrawnFace(DUCHENNE)
    answer = Outcome(DUCHENNE, 5000.0, 12.0, 640.0, 900.0, True, 90)
    mouth = Outcome(MOUTH_ONLY, 5000.0, 12.0, 420.0, 700.0, False, 90)
    none = Outcome(MOUTH_ONLY, 5000.0, 12.0, None, None, False, 90)
    return {
        "contagion-attract": View(Screen.ATTRACT, frame, None, t_ms=300.0, mode=ContagionView(Phase.IDLE, today=today)),
        "contagion-attract-few": View(Screen.ATTRACT, frame, None, mode=ContagionView(Phase.IDLE, today=few)),
        "contagion-settle": View(Screen.MIRROR, frame, reading(10, 5), mode=ContagionView(Phase.SETTLE, d.frame(0)[0])),
        "contagion-stimulus": View(Screen.MIRROR, frame, reading(10, 5),
                                   mode=ContagionView(Phase.STIMULUS, d.frame(2000)[0])),
        "contagion-answer": View(Screen.MIRROR, frame, reading(80, 60),
                                 mode=ContagionView(Phase.ANSWER, d.frame(3000)[0], answer)),
        "contagion-answer-mouth": View(Screen.MIRROR, frame, reading(80, 30),
                                       mode=ContagionView(Phase.ANSWER, d.frame(3000)[0], mouth)),
        "contagion-no-answer": View(Screen.MIRROR, frame, reading(10, 5),
                                    mode=ContagionView(Phase.ANSWER, d.frame(3000)[0], none)),
        "contagion-rest": View(Screen.MIRROR, frame, reading(10, 5), mode=ContagionView(Phase.REST)),
    }


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_coach_and_contagion_screen_reads_from_three_metres(astronaut: np.ndarray, size, tmp_path: Path) -> None:
    frame = cv2.resize(astronaut, (640, 480))
    stats = ExperimentStats(tmp_path / "state", day=lambda: "2026-12-01")
    for kind, n, yes in ((DUCHENNE, 25, 17), (MOUTH_ONLY, 22, 9)):
        for i in range(n):
            stats.count(Outcome(kind, 0.0, 10.0, 500.0 if i < yes else None, None, False, 90))
    mode = ContagionMode(Trial(), stats, min_trials=20)
    today = mode.today_line()
    assert today.startswith("Today 68% smiled back at a genuine smile, 41% at a posed one (47 trials)")
    few = ContagionMode(Trial(), ExperimentStats(tmp_path / "empty"), min_trials=20).today_line()
    assert "not enough visitors yet (0 trials" in few
    display = RecordingDisplay(screen=size)
    renderer = Renderer(display.canvas)
    out = Path(SHOTS) if SHOTS else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    views = {**{k: (v, CoachMode()) for k, v in coach_screens(frame).items()},
             **{k: (v, mode) for k, v in contagion_screens(frame, today, few).items()}}
    for name, (view, m) in views.items():
        renderer.draw(view, m)
        display.save(out / f"{name}-{size[0]}x{size[1]}.png")
        drawn = [d for d in renderer.painter.drawn if d.role != "operator"]
        assert drawn, f"{name}: no visitor text"
        assert_readable(name, drawn, renderer.painter, size)
        words = " ".join(d.text for d in drawn)
        if name == "contagion-answer":
            assert "0.64 s" in words and "smiled back in" in words
        if name == "contagion-attract":
            assert "68%" in words and "41%" in words
        if name == "coach-result":
            assert "+35" in words
    stats.close()
