"""The kiosk's screens as a small state machine (pibooth's states.py, with a failsafe state).

Pure: given what the camera and the scorer report this frame, it says which screen to show.
Attract and mirror switch with a short hold so a face lost for a frame or two does not flash
the attract screen; a failsafe screen stays up briefly after an error, then the mirror resumes.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.view import Screen


@dataclass(slots=True)
class KioskStates:
    leave_ms: float = 800.0      # face gone this long -> attract
    failsafe_ms: float = 3000.0  # how long the failsafe notice stays up
    screen: Screen = Screen.ATTRACT
    _face_seen_ms: float = -1e12
    _failsafe_until: float = -1e12

    def fail(self, now_ms: float) -> None:
        """Something in our own code failed this frame: show the calm notice for a while."""
        self._failsafe_until = now_ms + self.failsafe_ms
        self.screen = Screen.FAILSAFE

    def step(self, now_ms: float, *, camera_ok: bool, face: bool) -> Screen:
        if now_ms < self._failsafe_until:
            self.screen = Screen.FAILSAFE
        elif not camera_ok:
            self.screen = Screen.UNAVAILABLE
        else:
            if face:
                self._face_seen_ms = now_ms
            recent = now_ms - self._face_seen_ms <= self.leave_ms
            self.screen = Screen.MIRROR if recent else Screen.ATTRACT
        return self.screen
