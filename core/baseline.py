"""The per-visitor neutral face: what this visitor's eyes and mouth look like when not smiling.

Eye apertures and mouth shapes differ between people far more than a squint changes them, so
eye engagement is measured against the visitor's own neutral once it is known. The baseline is
learned only from frames that read as not smiling (that gate is the only outlier rejection):
a plain mean over the first `min_frames`, then an exponential mean that follows slow changes
such as the light. It is thrown away when the face leaves, so the next visitor starts fresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping


@dataclass(slots=True)
class Baseline:
    """Running neutral values of a few features for one tracked face.

    `update` takes a frame's features when that frame looks neutral; `value(name)` gives the
    learned neutral of a feature once `min_frames` neutral frames have been seen, else None.
    """

    min_frames: int = 8
    rate: float = 0.1  # weight of each new neutral frame once warm
    values: dict[str, float] = field(default_factory=dict)
    frames: int = 0

    @property
    def ready(self) -> bool:
        return self.frames >= self.min_frames

    def update(self, features: Mapping[str, float]) -> None:
        """Fold one neutral frame in: a plain mean while warming up, then an exponential mean."""
        self.frames += 1
        w = max(1.0 / self.frames, self.rate)
        for name, x in features.items():
            if not math.isfinite(x):
                continue
            old = self.values.get(name)
            self.values[name] = x if old is None else old + w * (x - old)

    def value(self, name: str) -> float | None:
        return self.values.get(name) if self.ready else None

    def reset(self) -> None:
        self.values.clear()
        self.frames = 0
