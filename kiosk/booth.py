"""The photo booth's trigger: when to take the picture, as a pure state machine on a clock.

A camera's smile shutter, judged on the real smile: the score must stay above the sensitivity
threshold (and, if asked, the smile must be eye-engaged) for `hold_ms`, so a passing grin does
not fire. Then an optional 3-2-1 countdown, the shot, a review, and a cooldown; the next photo
needs a new smile (the score must drop back first), so one smile gives at most one photo.

The first readings of a newcomer are not trusted: the visitor must have been in view for
`settle_ms` before a smile can start the build-up (the scorer's smoothing and the neutral
baseline need a moment; a booth must not fire the instant the model loads). A countdown whose
guest walks away (no face for `leave_ms`) is called off rather than photographing the room.
"""

from __future__ import annotations

import enum
import logging
import math
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from core.types import SmileKind, SmileReading, shown_score
from kiosk.photos import PhotoNotSaved, PhotoStore
from kiosk.text import kind_label, t

log = logging.getLogger(__name__)

# Score a smile must reach at each sensitivity: low = only a big smile, high = a slight one.
SENSITIVITY = {"low": 80.0, "medium": 65.0, "high": 50.0}
REARM_MARGIN = 15.0  # the score must fall this far below the threshold before the next photo


class Phase(str, enum.Enum):
    ARMED = "armed"          # watching for a smile
    BUILDING = "building"    # a qualifying smile is holding; the gauge fills
    COUNTDOWN = "countdown"  # 3-2-1
    CAPTURE = "capture"      # take the photo now (one step)
    REVIEW = "review"        # show the photo
    COOLDOWN = "cooldown"    # wait, and wait for the smile to end


@dataclass(frozen=True, slots=True)
class BoothStatus:
    phase: Phase
    progress: float = 0.0        # 0-1 while building
    countdown: int = 0           # 3, 2, 1 during the countdown
    shoot: bool = False          # True exactly once per photo
    rearm: bool = False          # the next photo waits for this smile to end


@dataclass(slots=True)
class BoothTrigger:
    sensitivity: str = "medium"
    require_genuine: bool = False
    hold_ms: float = 400.0
    countdown_s: int = 0
    review_ms: float = 4000.0
    cooldown_ms: float = 3000.0
    settle_ms: float = 600.0     # a visitor must be in view this long before a smile counts
    leave_ms: float = 1000.0     # no face this long calls a countdown off
    phase: Phase = Phase.ARMED
    _since: float = 0.0
    _needs_rearm: bool = False
    _present_since: float | None = None
    _face_ms: float = -1e12

    @property
    def threshold(self) -> float:
        return SENSITIVITY[self.sensitivity]

    def qualifies(self, reading: SmileReading | None) -> bool:
        if reading is None or reading.score < self.threshold:
            return False
        return not self.require_genuine or reading.kind is SmileKind.GENUINE

    def step(self, now_ms: float, reading: SmileReading | None) -> BoothStatus:
        """Advance on the current (displayed) reading; returns what to show and whether to shoot."""
        status = self._step(now_ms, reading)
        if self._needs_rearm and not status.shoot:
            return BoothStatus(status.phase, status.progress, status.countdown, rearm=True)
        return status

    def settled(self, now_ms: float) -> bool:
        """The visitor has been in view long enough for their readings to count."""
        return self._present_since is not None and now_ms - self._present_since >= self.settle_ms

    def _step(self, now_ms: float, reading: SmileReading | None) -> BoothStatus:
        if reading is not None:
            if self._present_since is None or now_ms - self._face_ms > self.leave_ms:
                self._present_since = now_ms  # a newcomer (or one back after a real absence)
            self._face_ms = now_ms
        if self._needs_rearm and (reading is None or reading.score < self.threshold - REARM_MARGIN):
            self._needs_rearm = False
        if self.phase is Phase.ARMED:
            if self.qualifies(reading) and not self._needs_rearm and self.settled(now_ms):
                self._enter(Phase.BUILDING, now_ms)
        if self.phase is Phase.BUILDING:
            if not self.qualifies(reading):
                self._enter(Phase.ARMED, now_ms)
                return BoothStatus(Phase.ARMED)
            held = now_ms - self._since
            if held < self.hold_ms:
                return BoothStatus(Phase.BUILDING, progress=held / self.hold_ms)
            self._enter(Phase.COUNTDOWN if self.countdown_s > 0 else Phase.CAPTURE, now_ms)
        if self.phase is Phase.COUNTDOWN:
            if now_ms - self._face_ms > self.leave_ms:  # the guest walked away: no photo of the room
                self._enter(Phase.ARMED, now_ms)
                return BoothStatus(Phase.ARMED)
            left = self.countdown_s * 1000.0 - (now_ms - self._since)
            if left > 0:
                return BoothStatus(Phase.COUNTDOWN, countdown=math.ceil(left / 1000.0))
            self._enter(Phase.CAPTURE, now_ms)
        if self.phase is Phase.CAPTURE:
            self._needs_rearm = True
            self._enter(Phase.REVIEW, now_ms)
            return BoothStatus(Phase.CAPTURE, shoot=True)
        if self.phase is Phase.REVIEW:
            if now_ms - self._since < self.review_ms:
                return BoothStatus(Phase.REVIEW)
            self._enter(Phase.COOLDOWN, now_ms)
        if self.phase is Phase.COOLDOWN:
            if now_ms - self._since < self.cooldown_ms:
                return BoothStatus(Phase.COOLDOWN)
            self._enter(Phase.ARMED, now_ms)
        return BoothStatus(self.phase)

    def shoot_now(self, now_ms: float) -> None:
        """A button asked for a photo without a smile: shoot at the next step (not mid-photo)."""
        if self.phase in (Phase.ARMED, Phase.BUILDING):
            self._needs_rearm = False
            self._enter(Phase.CAPTURE, now_ms)

    def restart_review(self, now_ms: float) -> None:
        """The photo has arrived: show it for the whole review time from now."""
        if self.phase is Phase.REVIEW:
            self._since = now_ms

    def _enter(self, phase: Phase, now_ms: float) -> None:
        self.phase, self._since = phase, now_ms


@dataclass(frozen=True, slots=True)
class BoothView:
    """What the renderer draws for the booth on top of (or instead of) the mirror."""

    phase: Phase
    progress: float = 0.0
    countdown: int = 0
    flash: float = 0.0                 # 0-1: strength of the white flash
    photo: np.ndarray | None = None    # the photo under review, or a slideshow slide
    caption: str = ""
    notice: str = ""
    rearm: bool = False                # the next photo waits for the guest's smile to end
    share_url: str = ""                # the QR code's link to this photo (sharing on)
    print_offer: bool = False          # the review screen offers Print (print = "ask")


class StillCamera(Protocol):
    """Where stills come from (the capture thread): the future gives the image, or None when
    the camera could not take one; cancelling it drops an answer that comes too late."""

    def request_still(self) -> Future[np.ndarray | None]: ...


class PhotoBooth:
    """Runs the trigger, asks the camera (the capture thread) for a full-resolution still,
    saves it off the display thread, and says what to show."""

    FLASH_MS = 350.0
    STILL_TIMEOUT_MS = 2500.0
    NOTICE_MS = 4000.0  # at most; a notice also ends with the phase it was given in
    SLIDE_MS = 5000.0

    def __init__(self, trigger: BoothTrigger, store: PhotoStore, *, slideshow: bool = True) -> None:
        self.trigger, self.store = trigger, store
        self.slideshow = slideshow
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="photo-writer")
        self._saving: deque[Future] = deque()  # photos being written, oldest first (a quick second shot queues)
        self._pending: tuple[SmileReading | None, float, Future[np.ndarray | None]] | None = None
        self._flash_at = -1e12
        self._photo: np.ndarray | None = None
        self._caption = ""
        self._notice, self._notice_at, self._notice_phase = "", -1e12, Phase.ARMED
        self._phase = Phase.ARMED
        self._smiling = False
        self._preview: np.ndarray | None = None
        self._slide: tuple[Path, np.ndarray] | None = None
        self._slide_at = -1e12
        self._slide_loading: Future | None = None
        self.saved: list[Path] = []
        self.failures = 0

    def step(self, now_ms: float, reading: SmileReading | None, preview: np.ndarray | None,
             camera: StillCamera) -> BoothView:
        smiling = reading is not None and reading.smiling
        if smiling and not self._smiling:
            self._writer.submit(self.store.saw_smile)  # counters are written off the display thread
        self._smiling = smiling
        self._preview = preview
        status = self.trigger.step(now_ms, reading)
        self._phase = status.phase
        if status.shoot:
            self._pending = (reading, now_ms, camera.request_still())
            self._flash_at = now_ms
            self._photo, self._caption = None, ""  # never show the previous guest's photo
        if self._pending is not None:
            self._collect_still(now_ms, preview)
        self._check_saved(now_ms)
        photo = self._photo if status.phase in (Phase.CAPTURE, Phase.REVIEW) else None
        flash = max(0.0, 1.0 - (now_ms - self._flash_at) / self.FLASH_MS)
        return BoothView(phase=status.phase, progress=status.progress, countdown=status.countdown, flash=flash,
                         photo=photo, caption=self._caption if photo is not None else "",
                         notice=self.notice(now_ms, status.phase), rearm=status.rearm)

    def notice(self, now_ms: float, phase: Phase) -> str:
        """The current notice: it belongs to the moment it was given in ("Photo saved" to the
        review of that photo), so it ends with that phase and never lingers over the live mirror."""
        if phase is Phase.CAPTURE:
            phase = Phase.REVIEW  # the shot and its review are one moment
        if phase is self._notice_phase and now_ms - self._notice_at < self.NOTICE_MS:
            return self._notice
        return ""

    def slide(self, now_ms: float) -> np.ndarray | None:
        """The latest photos in turn, while nobody is there (None without photos). The next one
        is listed and decoded on the writer thread, so the display never waits for the disk."""
        if not self.slideshow:
            return None
        if self._slide_loading is not None and self._slide_loading.done():
            loaded, self._slide_loading = self._slide_loading.result(), None
            if loaded is not None:
                self._slide = loaded
        if now_ms - self._slide_at >= self.SLIDE_MS and self._slide_loading is None:
            self._slide_at = now_ms
            current = None if self._slide is None else self._slide[0]
            self._slide_loading = self._writer.submit(self._load_slide, current)
        return None if self._slide is None else self._slide[1]

    def _load_slide(self, current: Path | None) -> tuple[Path, np.ndarray] | None:
        photos = self.store.photos()[-12:]
        if not photos:
            return None
        index = photos.index(current) + 1 if current in photos else 0
        path = photos[index % len(photos)]
        bgr = cv2.imread(str(path), cv2.IMREAD_REDUCED_COLOR_2)  # decoded at half size: quick
        return None if bgr is None else (path, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def close(self, camera: StillCamera | None = None) -> None:
        """Finish what was started, so nothing is lost at shutdown: a photo already shot is
        saved (from the preview if its still never came) and the writer is waited for. The
        camera is not needed for that (a still that has not come is cancelled); it may be given."""
        if self._pending is not None:
            self._collect_still(float("inf"), self._preview)
        self._writer.shutdown(wait=True)
        self._check_saved(float("inf"))
        self.store.close()

    def _collect_still(self, now_ms: float, preview: np.ndarray | None) -> None:
        reading, asked_at, still = self._pending  # type: ignore[misc]
        if not still.done() and now_ms - asked_at < self.STILL_TIMEOUT_MS:
            return  # still on its way
        image = None
        if still.done() and not still.cancelled():
            image = still.result()
        else:
            still.cancel()  # too late: the preview frame will do; a late still is dropped
        if image is None:
            image = preview
        self._pending = None
        if now_ms != float("inf"):
            self.trigger.restart_review(now_ms)
        if image is None:
            self._note(t("photo_not_taken"), now_ms)
            return
        self._photo = image
        self._caption = (t("booth_caption", score=shown_score(reading.score), kind=kind_label(reading.kind))
                         if reading is not None
                         else "")
        self._saving.append(self._writer.submit(self.store.save, image, reading))

    def _check_saved(self, now_ms: float) -> None:
        while self._saving and self._saving[0].done():
            self._report_saved(self._saving.popleft(), now_ms)

    def _report_saved(self, future: Future, now_ms: float) -> None:
        try:
            path = future.result()
        except PhotoNotSaved as exc:
            self.failures += 1
            log.warning("photo not saved: %s", exc)
            self._note(t("photo_not_saved", reason=t(exc.key, error=exc.detail)), now_ms)
            return
        except Exception as exc:  # never let a writer bug reach the screen
            self.failures += 1
            log.exception("photo writer failed")
            self._note(t("photo_not_saved", reason=t("photo_write_failed", error=type(exc).__name__)), now_ms)
            return
        self.saved.append(path)
        self._note(t("photo_saved"), now_ms)

    def _note(self, text: str, now_ms: float) -> None:
        phase = Phase.REVIEW if self._phase is Phase.CAPTURE else self._phase
        self._notice, self._notice_at, self._notice_phase = text, now_ms, phase
