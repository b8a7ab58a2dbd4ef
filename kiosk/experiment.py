"""The contagion experiment's trial: will the visitor smile back at a face that smiles?

Facial mimicry starts within about 300 ms of seeing a smile (Dimberg et al. 2000), and genuine
smiles draw more of it than posed ones (Niedenthal et al. 2010). One trial, as a pure state
machine on the frames' clock:

SETTLE: the stimulus face is shown neutral while the visitor's readings gather (every frame is
scored from here to the end of the window); it waits for a calm second (not smiling), or
`settle_max_ms`. STIMULUS: the face animates; `presented(t)` reports when the first smiling
stimulus frame reached the screen (the display flip): that is the onset. WATCH: `window_ms`
of readings after the onset. Then the trial is decided:

- baseline: the median raw score of the frames captured in the last second before the onset;
- response: the first frame captured after the onset whose raw score is `margin` over the
  baseline (the visible start of mimicry); crossed: the first whose raw score reaches 50;
  both timed from the frames' capture times, so the resolution is one camera frame;
- genuine: the eyes engaged (a smile with eye engagement >= 50) within `eyes_ms` of the onset.

Readings arrive after the frame they belong to (inference runs in its own thread), so the
decision waits `lag_ms` past the window. A visitor who leaves mid-trial abandons it (nothing is
counted); too few baseline frames make the trial void.
"""

from __future__ import annotations

import enum
import statistics
from dataclasses import dataclass, field

from core.types import GENUINE_LINE as GENUINE_AT, SMILE_LINE as SMILE_AT


class Phase(str, enum.Enum):
    IDLE = "idle"
    SETTLE = "settle"      # "watch the face": baseline gathering, the face neutral
    STIMULUS = "stimulus"  # the face smiles; the onset is the flip of its first smiling frame
    WATCH = "watch"        # the response window
    ANSWER = "answer"      # "You smiled back in 0.64 s"
    REST = "rest"          # this visitor has had their trials


@dataclass(frozen=True, slots=True)
class Outcome:
    """One decided trial: what is counted, and what the visitor is told."""

    kind: str                         # the stimulus kind ("duchenne" or "mouth-only", or a venue kind)
    onset_ms: float
    baseline: float
    response_ms: float | None         # latency of the first frame `margin` over the baseline
    crossed_ms: float | None          # latency of the first frame at 50 or more
    genuine: bool                     # eyes engaged within `eyes_ms`
    frames: int                       # frames scored in the window

    @property
    def responded(self) -> bool:
        return self.response_ms is not None


@dataclass(slots=True)
class Trial:
    settle_ms: float = 2000.0
    settle_max_ms: float = 6000.0
    calm_ms: float = 1000.0          # the baseline second must read as not smiling, if it can
    stimulus_max_ms: float = 3000.0  # the stimulus never reported shown: give up
    window_ms: float = 3000.0
    eyes_ms: float = 3000.0
    margin: float = 15.0             # score points over the baseline that count as a response
    baseline_ms: float = 1000.0
    min_baseline_frames: int = 3
    lag_ms: float = 600.0            # readings come in after their frames
    answer_ms: float = 7000.0
    trials_per_visit: int = 2
    leave_ms: float = 1500.0
    phase: Phase = Phase.IDLE
    kind: str = ""
    onset_ms: float | None = None
    outcome: Outcome | None = None
    _since: float = 0.0
    _seen: float = -1e18
    _done: int = 0
    _readings: list[tuple[float, float, float, float]] = field(default_factory=list)  # t, raw, score, eye

    def observe(self, t_ms: float, raw: float | None, score: float = 0.0, eye: float = 0.0) -> None:
        """One scored frame (captured at `t_ms`; raw None: no face in it)."""
        if raw is None:
            return
        self._seen = max(self._seen, t_ms)
        if self.phase in (Phase.SETTLE, Phase.STIMULUS, Phase.WATCH):
            self._readings.append((t_ms, raw, score, eye))
            horizon = (self.onset_ms if self.onset_ms is not None else t_ms) - 2 * self.baseline_ms
            if self.onset_ms is None and len(self._readings) > 400:
                self._readings = [x for x in self._readings if x[0] >= horizon]

    def step(self, now_ms: float, present: bool, next_kind: str = "") -> Outcome | None:
        """Advance the clock; `present`: a visitor is in front of the screen. Returns the
        outcome on the step a trial is decided (to be counted), else None."""
        if present:
            self._seen = max(self._seen, now_ms)
        away = now_ms - self._seen > self.leave_ms
        if away and self.phase is not Phase.IDLE:
            if self.phase is not Phase.ANSWER:
                self._to(Phase.IDLE, now_ms)  # left mid-trial: abandoned, nothing counted
            self._done = 0
        elapsed = now_ms - self._since
        if self.phase is Phase.IDLE and present and not away:
            self._begin(now_ms, next_kind)
        elif self.phase is Phase.SETTLE:
            if elapsed >= self.settle_max_ms or (elapsed >= self.settle_ms and self._calm(now_ms)):
                self._to(Phase.STIMULUS, now_ms)
        elif self.phase is Phase.STIMULUS:
            if self.onset_ms is not None:
                self._to(Phase.WATCH, now_ms)
            elif elapsed >= self.stimulus_max_ms:
                self._to(Phase.IDLE, now_ms)
        if self.phase is Phase.WATCH and self.onset_ms is not None:
            if now_ms >= self.onset_ms + self.window_ms + self.lag_ms:
                outcome = self.decide()
                self._done += 1
                self.outcome = outcome
                self._to(Phase.ANSWER if outcome is not None else Phase.IDLE, now_ms)
                return outcome
        elif self.phase is Phase.ANSWER and elapsed >= self.answer_ms:
            if away:
                self._to(Phase.IDLE, now_ms)
            elif self._done < self.trials_per_visit:
                self._begin(now_ms, next_kind)
            else:
                self._to(Phase.REST, now_ms)
        return None

    def presented(self, t_ms: float, smiling_frame: bool) -> None:
        """A stimulus frame reached the screen at `t_ms`; the first smiling one is the onset."""
        if self.phase is Phase.STIMULUS and smiling_frame and self.onset_ms is None:
            self.onset_ms = t_ms

    def decide(self) -> Outcome | None:
        """The trial from its readings (None: too few baseline frames to say anything)."""
        assert self.onset_ms is not None
        onset = self.onset_ms
        before = [raw for t, raw, _, _ in self._readings if onset - self.baseline_ms <= t < onset]
        if len(before) < self.min_baseline_frames:
            return None
        baseline = statistics.median(before)
        after = sorted((x for x in self._readings if onset <= x[0] <= onset + self.window_ms), key=lambda x: x[0])
        response = next((t - onset for t, raw, _, _ in after if raw >= baseline + self.margin), None)
        crossed = None
        if baseline < SMILE_AT:
            crossed = next((t - onset for t, raw, _, _ in after if raw >= SMILE_AT), None)
        genuine = any(score >= SMILE_AT and eye >= GENUINE_AT for t, _, score, eye in after
                      if t <= onset + self.eyes_ms)
        return Outcome(self.kind, onset, baseline, response, crossed, genuine and response is not None, len(after))

    # -- internals ------------------------------------------------------------------------------
    def _begin(self, now_ms: float, kind: str) -> None:
        self.kind, self.onset_ms, self.outcome = kind, None, None
        self._readings = []
        self._to(Phase.SETTLE, now_ms)

    def _to(self, phase: Phase, now_ms: float) -> None:
        self.phase, self._since = phase, now_ms
        if phase is Phase.IDLE:
            self._readings, self.onset_ms = [], None

    def _calm(self, now_ms: float) -> bool:
        last = [raw for t, raw, _, _ in self._readings if t >= now_ms - self.calm_ms]
        return len(last) >= self.min_baseline_frames and max(last) < SMILE_AT

    @property
    def timing(self) -> bool:
        """True from the baseline to the end of the window: every camera frame must be scored."""
        return self.phase in (Phase.SETTLE, Phase.STIMULUS, Phase.WATCH)
