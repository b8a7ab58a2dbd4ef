"""The mode seam: what a kiosk mode is to the app loop.

The app loop (kiosk.app.App) owns the camera, the inference worker, the scheduler and the
screen; a mode owns what the mirror *does* with a visitor: lobby scoring, the photo booth,
group contagion, the eye coach, the contagion experiment. The loop knows no mode by name: it
hands every landmarker result to `observe`, steps the mode on the media clock each displayed
frame, puts the mode's own view payload into `View.mode`, and lets the mode paint the screens
it owns. A new mode is one module plus one line in `kiosk.modes.REGISTRY`.

A mode may also offer `facts() -> dict[str, int]`: its cumulative anonymous counts (photos,
prints, contagion trials and responses, coach sessions; names in `kiosk.telemetry.COUNTERS`),
read by the loop after each displayed frame and sent to the venue's metrics as increments.

Modes are built by `from_config` (the gpiozero/Frigate pattern: each backend reads its own
config section). Their logic is pure state machines on the clock they are given; their
painters draw through the paint kit (kiosk.paint) and never import another painter.
"""

from __future__ import annotations

from dataclasses import dataclass
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Sequence

from core.types import FaceObservation, Frame, SmileReading
from kiosk.view import Screen

if TYPE_CHECKING:
    from core.config import Config
    from core.landmarker import Landmarker
    from kiosk.paint import Painter
    from kiosk.view import View


class StillCamera(Protocol):
    """The capture thread's still-photo interface, as a mode sees it."""

    def request_still(self) -> "Future[Any]": ...


@dataclass(frozen=True, slots=True)
class Tick:
    """What the loop tells a mode once per displayed frame."""

    now_ms: float                   # the media clock (camera time, or the video's own timeline)
    screen: Screen                  # what the kiosk's state machine chose (attract, mirror, ...)
    reading: SmileReading | None    # the current (smoothed) reading of the main face
    frame: Frame | None             # the newest camera frame (kept in memory only)
    camera: StillCamera             # for modes that take photos


class Mode(Protocol):
    """One kiosk behaviour. Every method is called on the display thread."""

    name: ClassVar[str]

    @classmethod
    def from_config(cls, config: "Config") -> "Mode":
        """Build the mode from its own config section."""

    @classmethod
    def landmarker(cls, config: "Config", model: Any) -> "Landmarker | None":
        """A landmarker of the mode's own (group mode tracks several faces); None: the standard one."""

    def observe(self, faces: Sequence[FaceObservation], t_ms: float) -> SmileReading | None:
        """One finished inference (faces may be empty). Returns the reading of the visitor that
        drives the attract/mirror decision, or None when nobody is there."""

    def step(self, tick: Tick) -> Screen:
        """Advance on the clock; may replace the screen (the booth's review)."""

    def view(self) -> Any:
        """The mode's payload for this frame's View (`View.mode`): plain frozen data."""

    def animating(self) -> bool:
        """True while the screen changes between camera frames (countdowns, sparks)."""

    def score_every_frame(self) -> bool:
        """True while every camera frame must be scored (a timed trial)."""

    def paint(self, view: "View", painter: "Painter") -> None:
        """Draw the screens this mode owns (attract, mirror, review) through the paint kit."""

    def presented(self, t_ms: float) -> None:
        """The frame just painted reached the screen at `t_ms` (after the flip, on the clock of the
        frames' `t_ms`: monotonic for a camera, the media timeline for a file)."""

    def record(self) -> dict:
        """Extra fields for this result's `--readings` line ({} for none)."""

    def close(self) -> None:
        """Finish and release: pending photos saved, counts written."""


class SingleFaceMode:
    """The shared core of the one-visitor modes: a SmileTracker for the largest face, no
    screen of its own beyond what the subclass paints, nothing to record or close."""

    name: ClassVar[str] = ""

    def __init__(self) -> None:
        from core.scoring import SmileTracker

        self.tracker = SmileTracker()

    @classmethod
    def landmarker(cls, config: "Config", model: Any) -> "Landmarker | None":
        return None

    def observe(self, faces: Sequence[FaceObservation], t_ms: float) -> SmileReading | None:
        return self.tracker.update(faces[0] if faces else None, t_ms)

    def step(self, tick: Tick) -> Screen:
        return tick.screen

    def view(self) -> Any:
        return None

    def animating(self) -> bool:
        return False

    def score_every_frame(self) -> bool:
        return False

    def presented(self, t_ms: float) -> None:
        """The frame just drawn reached the screen at `t_ms` (monotonic): modes that time
        what the visitor saw (a stimulus onset) take it from here."""

    def record(self) -> dict:
        return {}

    def close(self) -> None:
        return None
