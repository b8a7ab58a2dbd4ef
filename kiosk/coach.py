"""The eye coach's session: relax, smile, now with your eyes, result, as a pure state machine.

Smiling with the eyes (a Duchenne smile: cheeks lift, lower lids rise) can be learned, and a
visitor learns it fastest from a live reading that answers every change. The session:

1. RELAX: a neutral moment so the tracker learns this visitor's own neutral eyes (SmileTracker
   keeps that baseline from frames that read clearly not smiling). A visitor who smiles all
   through it gets the next step after `relax_max_ms` anyway.
2. SMILE: their best smile. The moment with the highest score is the "before".
3. EYES: cues while a live gauge shows eye engagement against the target; the first reading
   that reaches the target while smiling is celebrated at once. The moment with the most eye
   engagement (while smiling, if they smiled) is the "after".
4. RESULT: before and after side by side, then DONE (the attract screen) on a timeout.

A smile that is already genuine at step 2 is the reward at once and a shorter path (straight
to the result). Nobody fails: a visitor who never smiles simply reaches the result with
thanks. A face gone for `leave_ms` ends the session; whoever comes next starts afresh.

Moments carry an opaque `frame` (the camera picture at that moment): the mode keeps it in
memory for the result screen; nothing here or there writes it anywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from core.types import GENUINE_LINE as GENUINE_AT, SMILE_LINE as SMILE_AT
from core.types import SmileReading


class Phase(str, enum.Enum):
    IDLE = "idle"        # nobody there
    RELAX = "relax"      # learning this visitor's neutral face
    SMILE = "smile"      # the visitor's best smile
    EYES = "eyes"        # now with the eyes: cues and the live gauge
    RESULT = "result"    # before and after
    DONE = "done"        # back to the attract screen until a new visitor


@dataclass(frozen=True, slots=True)
class Moment:
    """One noted instant: its readings and the camera picture (in memory only)."""

    t_ms: float
    score: float
    eye: float
    frame: Any = field(default=None, compare=False, repr=False)

    @property
    def genuine(self) -> bool:
        return self.score >= SMILE_AT and self.eye >= GENUINE_AT


@dataclass(frozen=True, slots=True)
class CoachView:
    """What the coach's screens show this frame (plain data; the painter draws it)."""

    phase: Phase
    progress: float = 0.0          # 0-1 through the current step's time
    cue: int = 0                   # which of the eye cues to show (they rotate)
    eye: float = 0.0               # the live eye engagement
    score: float = 0.0             # the live score
    target: float = GENUINE_AT     # the eye engagement to reach
    before: Moment | None = None
    after: Moment | None = None
    celebrate: float = 0.0         # 0-1 through the celebration, else 0
    shortcut: bool = False         # genuine at step 2: the shorter path


@dataclass(slots=True)
class CoachSession:
    relax_ms: float = 2000.0
    relax_max_ms: float = 5000.0     # a visitor who keeps smiling moves on anyway
    smile_hold_ms: float = 700.0     # a smile held this long is their best one
    smile_max_ms: float = 5000.0
    eyes_max_ms: float = 14000.0
    cue_ms: float = 3500.0           # each eye cue stays this long
    celebrate_ms: float = 2500.0
    result_ms: float = 10000.0
    done_ms: float = 20000.0         # someone still there after this long gets a new session
    leave_ms: float = 1500.0         # as SmileTracker's grace: gone this long is a new visitor
    phase: Phase = Phase.IDLE
    _since: float = 0.0              # when the phase began
    _seen: float = -1e18
    _calm_since: float | None = None
    _smile_since: float | None = None
    _before: Moment | None = None
    _after: Moment | None = None
    _reached: float | None = None
    _shortcut: bool = False
    _live: tuple[float, float] = (0.0, 0.0)
    _away: bool = False

    def step(self, now_ms: float, reading: SmileReading | None, frame: Any = None) -> CoachView:
        """Advance with this frame's reading of the visitor (None: nobody there)."""
        if reading is None:
            if now_ms - self._seen > self.leave_ms:
                self._away = True
                if self.phase in (Phase.RELAX, Phase.SMILE, Phase.EYES, Phase.DONE):
                    self._forget()
                    self._to(Phase.IDLE, now_ms)  # left mid-way: the session resets
        else:
            if self._away or self.phase is Phase.IDLE:
                self._start(now_ms)  # a newcomer (also over a result still on screen)
            elif self.phase is Phase.DONE and now_ms - self._since >= self.done_ms:
                self._start(now_ms)  # still there long after: another go
            self._seen = now_ms
            self._live = (reading.score, reading.eye_engagement)
            self._advance(now_ms, reading, frame)
        if self.phase is Phase.RESULT and now_ms - self._since >= self.result_ms:
            self._forget()  # the pictures go with the result
            self._to(Phase.DONE, now_ms)
        return self.view(now_ms)

    # -- the steps ------------------------------------------------------------------------------
    def _start(self, now_ms: float) -> None:
        self._forget()
        self._away = False
        self._to(Phase.RELAX, now_ms)

    def _forget(self) -> None:
        """Drop the visitor's moments (and with them their pictures)."""
        self._before = self._after = None
        self._reached = None
        self._shortcut = False
        self._calm_since = self._smile_since = None
        self._live = (0.0, 0.0)

    def _to(self, phase: Phase, now_ms: float) -> None:
        self.phase, self._since = phase, now_ms

    def _advance(self, now: float, r: SmileReading, frame: Any) -> None:
        moment = Moment(now, r.score, r.eye_engagement, frame)
        elapsed = now - self._since
        if self.phase is Phase.RELAX:
            if r.score < SMILE_AT:
                self._calm_since = now if self._calm_since is None else self._calm_since
            else:
                self._calm_since = None
            calm = self._calm_since is not None and now - self._calm_since >= self.relax_ms
            if calm or elapsed >= self.relax_max_ms:
                self._to(Phase.SMILE, now)
        elif self.phase is Phase.SMILE:
            if self._before is None or r.score > self._before.score:
                self._before = moment
            if r.score >= SMILE_AT:
                self._smile_since = now if self._smile_since is None else self._smile_since
            else:
                self._smile_since = None
            held = self._smile_since is not None and now - self._smile_since >= self.smile_hold_ms
            if moment.genuine:  # smiling with the eyes already: celebrate, the shorter path
                self._before = self._after = moment
                self._reached, self._shortcut = now, True
                self._to(Phase.EYES, now)
            elif held or elapsed >= self.smile_max_ms:
                self._to(Phase.EYES, now)
        elif self.phase is Phase.EYES:
            best = self._after
            smiling = r.score >= SMILE_AT
            if best is None or (smiling, r.eye_engagement) > (best.score >= SMILE_AT, best.eye):
                if not self._shortcut:
                    self._after = moment
            if self._reached is None and moment.genuine:
                self._reached = now  # the moment it happens
            if self._reached is not None and now - self._reached >= self.celebrate_ms:
                self._to(Phase.RESULT, now)
            elif self._reached is None and elapsed >= self.eyes_max_ms:
                self._to(Phase.RESULT, now)

    # -- what to show -------------------------------------------------------------------------------
    def view(self, now_ms: float) -> CoachView:
        elapsed = now_ms - self._since
        limit = {Phase.RELAX: self.relax_ms, Phase.SMILE: self.smile_max_ms, Phase.EYES: self.eyes_max_ms,
                 Phase.RESULT: self.result_ms}.get(self.phase, 0.0)
        progress = min(1.0, elapsed / limit) if limit else 0.0
        celebrate = 0.0
        if self._reached is not None and self.phase is Phase.EYES:
            celebrate = min(1.0, max(0.0, (now_ms - self._reached) / self.celebrate_ms))
            celebrate = max(celebrate, 1e-3)
        score, eye = self._live
        return CoachView(self.phase, progress, int(elapsed // self.cue_ms) if self.phase is Phase.EYES else 0,
                         eye, score, GENUINE_AT, self._before, self._after, celebrate, self._shortcut)

    @property
    def active(self) -> bool:
        """True while a session is under way (every frame matters for the live gauge)."""
        return self.phase in (Phase.RELAX, Phase.SMILE, Phase.EYES)
