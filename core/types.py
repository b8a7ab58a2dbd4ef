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


class SmileKind(str, enum.Enum):
    """How a smile reads: eye-engaged (Duchenne), mouth-only, or no smile."""

    GENUINE = "genuine"
    POSED = "posed"
    NONE = "none"

    @property
    def label(self) -> str:
        """Words for the screen."""
        return {"genuine": "Genuine smile", "posed": "Posed smile", "none": "No smile"}[self.value]


@dataclass(frozen=True, slots=True)
class SmileReading:
    """The scorer's verdict on one face at one moment.

    `score` 0-100 (>= 50 means smiling), `eye_engagement` 0-100, `raw_score` before any
    smoothing, `confidence` 0-1 of the face itself, `box` normalised like the observation.
    """

    t_ms: float
    score: float
    kind: SmileKind
    eye_engagement: float
    box: tuple[float, float, float, float]
    raw_score: float
    confidence: float = 1.0
    features: Mapping[str, float] = field(default_factory=dict)

    @property
    def smiling(self) -> bool:
        return self.score >= 50.0
