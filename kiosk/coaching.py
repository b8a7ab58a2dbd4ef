"""The coaching line under the score: what to try next, as a pure state machine on a clock.

No smile: invite one. A mouth-only smile: ask for the eyes (the Duchenne cue, in plain
words). The first time this visitor's smile turns genuine: a short reward; after that, say
what they are doing right. A visitor who leaves for longer than `leave_ms` is a new visitor.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from core.types import SmileKind, SmileReading


class Cue(str, enum.Enum):
    INVITE = "invite"      # no smile yet
    EYES = "eyes"          # a smile, but not yet in the eyes
    REWARD = "reward"      # this visitor's first genuine smile: celebrate the moment
    GENUINE = "genuine"    # genuine again, after the reward


@dataclass(slots=True)
class CoachLine:
    reward_ms: float = 2500.0
    leave_ms: float = 800.0
    _rewarded: bool = False
    _reward_at: float = -1e18
    _seen_ms: float = -1e18

    def step(self, now_ms: float, reading: SmileReading | None) -> tuple[Cue, float]:
        """The cue to show, and how far through the reward it is (0-1; 0 when no reward)."""
        if now_ms - self._seen_ms > self.leave_ms:  # gone long enough: whoever comes is new
            self._rewarded, self._reward_at = False, -1e18
        if reading is None:
            return Cue.INVITE, 0.0
        self._seen_ms = now_ms
        since = now_ms - self._reward_at
        if 0.0 <= since < self.reward_ms:
            return Cue.REWARD, since / self.reward_ms
        if reading.kind is SmileKind.GENUINE:
            if not self._rewarded:
                self._rewarded, self._reward_at = True, now_ms
                return Cue.REWARD, 0.0
            return Cue.GENUINE, 0.0
        return (Cue.EYES if reading.kind is SmileKind.POSED else Cue.INVITE), 0.0
