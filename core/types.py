"""The plain data that flows through the mirror (see docs: FrameSource -> Landmarker -> Scorer).

Frozen, slotted dataclasses: cheap to create per frame, safe to hand between threads.
"""

from __future__ import annotations

import enum
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
    to turn normalised coordinates into true proportions.
    """

    t_ms: float
    landmarks: np.ndarray
    blendshapes: Mapping[str, float]
    box: tuple[float, float, float, float]
    image_size: tuple[int, int]
    transform: np.ndarray | None = None

    def points_px(self) -> np.ndarray:
        """Landmarks in pixel units (x, y, z), z scaled like x."""
        w, h = self.image_size
        return self.landmarks * np.array([w, h, w], dtype=np.float32)


class SmileKind(str, enum.Enum):
    """How a smile reads: eye-engaged (Duchenne), mouth-only, or no smile."""

    GENUINE = "genuine"
    POSED = "posed"
    NONE = "none"

    @property
    def label(self) -> str:
        """Words for the screen."""
        return {"genuine": "Genuine smile", "posed": "Polite smile", "none": "No smile yet"}[self.value]


SMILE_AT = 50.0  # the Smile Score at which a face counts as smiling: the scorer's decision line


@dataclass(frozen=True, slots=True)
class SmileReading:
    """The scorer's verdict on one face at one moment.

    `score` 0-100 (`SMILE_AT` or more means smiling), `eye_engagement` 0-100, `raw_score`
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
        return self.score >= SMILE_AT


def reading_record(reading: SmileReading | None) -> dict:
    """A reading as plain JSON numbers, nulls when there is none: the one shape that
    `--readings`, `score` and group mode's per-face lines share."""
    if reading is None:
        return {"score": None, "kind": None, "eye_engagement": None}
    return {"score": round(reading.score, 2), "kind": reading.kind.value,
            "eye_engagement": round(reading.eye_engagement, 2)}
