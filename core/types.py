"""The plain data that flows through the mirror (see docs: FrameSource -> Landmarker -> Scorer).

Frozen, slotted dataclasses: cheap to create per frame, safe to hand between threads.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One camera image. `rgb` is HxWx3 uint8 in RGB order; `t_ms` is monotonic (or, for a
    video file, its position in the file); `index` counts frames delivered by the source."""

    rgb: np.ndarray
    t_ms: float
    index: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


@dataclass(frozen=True, slots=True)
class FaceObservation:
    """What the landmarker saw of one face, free of any mediapipe type.

    `landmarks` is (478, 3) float32: x and y normalised to the image width and height, z in
    the same scale as x. `box` is (x0, y0, x1, y1), normalised. `image_size` is (w, h), needed
    to turn normalised coordinates into true proportions. `mouth` is the grey mouth patch
    (`core.mouth_patch`, 24x48 uint8) cut from the frame the landmarks came from, so the scorer
    can read the mouth's appearance without the frame; None when no pixels came with the
    observation (e.g. a replay recorded without them).
    """

    t_ms: float
    landmarks: np.ndarray
    blendshapes: Mapping[str, float]
    box: tuple[float, float, float, float]
    image_size: tuple[int, int]
    transform: np.ndarray | None = None
    mouth: np.ndarray | None = None

    def points_px(self) -> np.ndarray:
        """Landmarks in pixel units (x, y, z), z scaled like x."""
        w, h = self.image_size
        return self.landmarks * np.array([w, h, w], dtype=np.float32)


SMILE_LINE = 50.0
"""The score at which a face counts as smiling: the one line every part of the program uses."""
GENUINE_LINE = 50.0
"""The eye engagement at which a smile counts as genuine (eye-engaged)."""


def is_smiling(score: float) -> bool:
    """A score at or above the smiling line."""
    return score >= SMILE_LINE


def shown_score(score: float) -> int:
    """The whole number a screen shows for `score`: rounded half up, clamped to 0-100, and never
    rounded up across the smiling line (49.7 shows 49), so the number and the kind always agree."""
    return _shown(score, SMILE_LINE)


def shown_eye(eye: float) -> int:
    """The whole number a screen shows for an eye engagement, never rounded across GENUINE_LINE."""
    return _shown(eye, GENUINE_LINE)


def _shown(value: float, line: float) -> int:
    n = min(100, max(0, math.floor(value + 0.5)))
    return min(n, math.ceil(line) - 1) if value < line else max(n, math.ceil(line))


class SmileKind(str, enum.Enum):
    """How a smile reads: eye-engaged (Duchenne), mouth-only, or no smile."""

    GENUINE = "genuine"
    POSED = "posed"
    NONE = "none"


def kind_of(score: float, eye: float) -> SmileKind:
    """The kind a reading shows, from the numbers it shows: none under the smiling line,
    genuine at or above it with the eyes engaged, else posed."""
    if not is_smiling(score):
        return SmileKind.NONE
    return SmileKind.GENUINE if eye >= GENUINE_LINE else SmileKind.POSED


@dataclass(frozen=True, slots=True)
class SmileReading:
    """The scorer's verdict on one face at one moment.

    `score` 0-100 (`SMILE_LINE` or more means smiling), `eye_engagement` 0-100, `raw_score`
    before any smoothing, `box` normalised like the observation.
    """

    t_ms: float
    score: float
    kind: SmileKind
    eye_engagement: float
    box: tuple[float, float, float, float]
    raw_score: float
    features: Mapping[str, float] = field(default_factory=dict)

    @property
    def smiling(self) -> bool:
        return is_smiling(self.score)


def reading_record(reading: SmileReading | None) -> dict:
    """A reading as plain JSON numbers, nulls when there is none: the one shape that
    `--readings`, `score` and group mode's per-face lines share."""
    if reading is None:
        return {"score": None, "kind": None, "eye_engagement": None}
    return {"score": round(reading.score, 2), "kind": reading.kind.value,
            "eye_engagement": round(reading.eye_engagement, 2)}
