"""Contagion mode: "will you smile back?", a live mimicry experiment.

A face on the screen turns from neutral to a smile (a genuine, Duchenne one or a mouth-only
one, balanced over the day); the mirror times the visitor's own smile from the moment the
smiling face reached the screen. The trial is kiosk.experiment's `Trial` (pure); the faces are
kiosk.stimulus's; the anonymous counts kiosk.experiment_stats's. This module wires them to
the loop: it asks for every frame to be scored through a trial, remembers which stimulus
frame it painted, and takes the flip time from `presented`.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Iterator, Sequence

import numpy as np
import pygame

from core.types import FaceObservation, SmileReading
from kiosk.experiment import Outcome, Phase, Trial
from kiosk.experiment_stats import ExperimentStats
from kiosk.modes.base import SingleFaceMode, Tick
from kiosk.modes.lobby import paint_attract
from kiosk.paint import GOLD, INK, MUTED, Painter
from kiosk.text import t
from kiosk.stimulus import DUCHENNE, KINDS, MOUTH_ONLY, DrawnFace, Stimulus, load_clips
from kiosk.view import Screen

if TYPE_CHECKING:
    from core.config import Config
    from kiosk.view import View

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class ContagionView:
    phase: Phase
    picture: np.ndarray | None = None   # the stimulus frame to paint this time
    outcome: Outcome | None = None
    today: str = ""                     # the running result line for the attract screen


class ContagionMode(SingleFaceMode):
    name: ClassVar[str] = "contagion"

    def __init__(self, trial: Trial, stats: ExperimentStats, stimuli: Sequence[Stimulus] | None = None, *,
                 min_trials: int = 20, rng: random.Random | None = None) -> None:
        super().__init__()
        self.trial = trial
        self.stats = stats
        self.stimuli = list(stimuli) if stimuli else [DrawnFace(DUCHENNE), DrawnFace(MOUTH_ONLY)]
        self.kinds = tuple(sorted({s.kind for s in self.stimuli}, key=lambda k: (k not in KINDS, k)))
        self.min_trials = min_trials
        self.rng = rng or random.Random()
        self._stimulus: Stimulus = self.stimuli[0]
        self._stim_start: float | None = None
        self._smiling_shown = False
        self._view = ContagionView(Phase.IDLE)
        self._prev_phase = Phase.IDLE
        self._warm: Iterator[float] = iter(())
        self.stimulus_due_ms: float | None = None  # when the smiling frame was due (the flip is the onset)
        self.outcomes: deque[Outcome] = deque(maxlen=100)  # the latest decided trials (tests, bench)

    @classmethod
    def from_config(cls, config: "Config") -> "ContagionMode":
        from core.config import state_dir

        c = config.contagion
        stimuli = load_clips(Path(c.stimuli)) if c.stimuli else None
        folder = state_dir(config)
        log.info("contagion mode: anonymous counts per day in %s", folder / "contagion-stats.json")
        return cls(Trial(margin=c.margin, trials_per_visit=c.trials_per_visit), ExperimentStats(folder),
                   stimuli, min_trials=c.min_trials)

    def observe(self, faces: Sequence[FaceObservation], t_ms: float) -> SmileReading | None:
        reading = super().observe(faces, t_ms)
        if reading is not None:
            self.trial.observe(t_ms, reading.raw_score, reading.score, reading.eye_engagement)
        return reading

    def _next_kind(self) -> str:
        return self.rng.choice(self.stats.least_tried_today(self.kinds))

    def step(self, tick: Tick) -> Screen:
        t = self.trial
        kind = self._next_kind() if t.phase in (Phase.IDLE, Phase.ANSWER) else ""
        outcome = t.step(tick.now_ms, tick.screen is Screen.MIRROR and tick.reading is not None, kind)
        if outcome is not None:
            self.stats.count(outcome)
            self.outcomes.append(outcome)
        if t.phase is Phase.SETTLE and self._prev_phase is not Phase.SETTLE:  # a new trial: its stimulus
            self._stimulus = self.rng.choice([s for s in self.stimuli if s.kind == t.kind])
            self._stim_start = None
            step_ms = 1000.0 / 60.0
            self._warm = iter([i * step_ms for i in range(int(self._stimulus.duration_ms / step_ms) + 1)])
        self._prev_phase = t.phase
        picture = None
        self._smiling_shown = False
        if t.phase is Phase.SETTLE:
            picture = self._stimulus.frame(0.0)[0]
            # draw the animation ahead, a few frames per tick: the flip must not wait for drawing
            for when in itertools.islice(self._warm, 4):
                self._stimulus.frame(when)
        elif t.phase in (Phase.STIMULUS, Phase.WATCH):
            if self._stim_start is None:
                self._stim_start = tick.now_ms
                self.stimulus_due_ms = tick.now_ms + self._stimulus.smile_at_ms
            picture, self._smiling_shown, _ = self._stimulus.frame(tick.now_ms - self._stim_start)
        elif t.phase is Phase.ANSWER:
            picture = self._stimulus.frame(self._stimulus.duration_ms)[0]
        self._view = ContagionView(t.phase, picture, t.outcome if t.phase is Phase.ANSWER else None,
                                   self.today_line() if t.phase in (Phase.IDLE, Phase.REST) else "")
        if t.phase is Phase.IDLE and tick.screen is Screen.MIRROR:
            return Screen.ATTRACT
        if t.phase is not Phase.IDLE and tick.screen is Screen.ATTRACT:
            return Screen.MIRROR  # the trial's screen holds through a blink of absence
        return tick.screen

    def presented(self, t_ms: float) -> None:
        """The frame just painted reached the screen: a smiling stimulus frame's flip is the onset."""
        self.trial.presented(t_ms, self._smiling_shown)

    def today_line(self) -> str:
        today = self.stats.today()
        n = sum(row["trials"] for row in today.values())
        rows = [today.get(k, {}) for k in (DUCHENNE, MOUTH_ONLY)]
        if DUCHENNE in self.kinds and MOUTH_ONLY in self.kinds and all(r.get("trials", 0) >= self.min_trials
                                                                        for r in rows):
            g, m = (round(100 * r["responses"] / r["trials"]) for r in rows)
            return t("contagion_today", genuine=g, posed=m, n=n)
        return t("contagion_not_enough", n=n)

    def view(self) -> ContagionView:
        return self._view

    def animating(self) -> bool:
        return self.trial.phase in (Phase.STIMULUS, Phase.WATCH)

    def score_every_frame(self) -> bool:
        return self.trial.timing

    def record(self) -> dict:
        return {"trial": self.trial.phase.value, "stimulus": self.trial.kind or None}

    def close(self) -> None:
        self.stats.close()

    def paint(self, view: "View", p: Painter) -> None:
        paint_contagion(view, view.mode if isinstance(view.mode, ContagionView) else ContagionView(Phase.IDLE), p)


def paint_contagion(view: "View", c: ContagionView, p: Painter) -> None:
    """The experiment's screens: a plain function of the View so the lead may move it."""
    u = p.u
    if c.phase in (Phase.SETTLE, Phase.STIMULUS, Phase.WATCH) and c.picture is not None:
        # the face alone, large, on a calm background: no camera picture to distract
        title = p.paragraph(t("contagion_watch_title"), "headline", INK, p.w * 0.9, x=p.w / 2, y=3 * u, align="center")
        foot = p.px("line") * 2 + round(6 * u)
        area = pygame.Rect(0, title.bottom + round(2 * u), p.w, p.h - title.bottom - foot - round(4 * u))
        p.photo(c.picture, area)
        p.paragraph(t("contagion_watch_detail"), "line", MUTED, p.w * 0.9, x=p.w / 2, y=area.bottom + round(2 * u),
                    align="center")
    elif c.phase is Phase.ANSWER and c.outcome is not None:
        paint_answer(view, c, p)
    elif c.phase is Phase.REST:
        paint_attract(view, p, t("contagion_rest_title"), t("contagion_rest_detail"))
    else:
        detail = t("contagion_attract_detail")
        paint_attract(view, p, t("contagion_attract_title"), f"{detail}. {c.today}".strip(". "))


def paint_answer(view: "View", c: ContagionView, p: Painter) -> None:
    """"You smiled back in 0.64 s" (and whether with the eyes), or thanks: never a verdict on
    someone who did not."""
    assert c.outcome is not None
    u = p.u
    o = c.outcome
    if view.frame is not None:
        p.camera(view.frame, mirror=view.mirror)
        p.dim(185)
    if c.picture is not None:  # the smiling face, smaller, as a reminder
        side = round(min(p.w, p.h) * (0.28 if p.portrait else 0.34))
        area = pygame.Rect(0, 0, side, side)
        area.midtop = (p.w // 2, round(4 * u))
        top = p.photo(c.picture, area).bottom + round(3 * u)
    else:
        top = round(10 * u)
    if o.responded:
        head = p.paragraph(t("contagion_answer_title"), "headline", INK, p.w * 0.9, x=p.w / 2, y=top, align="center")
        number = p.text(t("contagion_seconds", value=o.response_ms / 1000.0), "score", GOLD,
                        midtop=(p.w // 2, head.bottom + round(1 * u)))
        line = p.paragraph(t("contagion_with_eyes") if o.genuine else t("contagion_without_eyes"), "verdict",
                           GOLD if o.genuine else INK, p.w * 0.9, x=p.w / 2, y=number.bottom + round(1 * u),
                           align="center")
    else:
        head = p.paragraph(t("contagion_no_answer_title"), "headline", INK, p.w * 0.9, x=p.w / 2, y=top, align="center")
        line = p.paragraph(t("contagion_no_answer_detail"), "line", INK, p.w * 0.86, x=p.w / 2,
                           y=head.bottom + round(2 * u), align="center")
    why_h = len(p.wrap(t("contagion_why"), "line", p.w * 0.86)) * round(p.font(p.px("line")).get_linesize() * 0.92)
    if line.bottom + round(3 * u) + why_h <= p.h - round(2 * u):  # the reason, where there is room for it
        p.paragraph(t("contagion_why"), "line", MUTED, p.w * 0.86, x=p.w / 2, y=line.bottom + round(3 * u), align="center")


__all__ = ["ContagionMode", "ContagionView", "paint_contagion"]
