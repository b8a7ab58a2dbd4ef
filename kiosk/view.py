"""What the screen should show this frame: plain data, built by the state machine, drawn by
the renderer. Keeping it plain lets tests check decisions without pixels, and pixels
without a camera."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from core.types import SmileReading


class Screen(str, enum.Enum):
    ATTRACT = "attract"          # nobody there: "step closer"
    MIRROR = "mirror"            # a face: the score
    REVIEW = "review"            # photo booth: the photo just taken
    UNAVAILABLE = "unavailable"  # camera lost: calm notice, reconnecting
    FAILSAFE = "failsafe"        # something went wrong in our code: calm notice, carrying on


@dataclass(frozen=True, slots=True)
class View:
    screen: Screen
    frame: np.ndarray | None = None          # newest RGB camera frame
    reading: SmileReading | None = None
    message: str = ""
    detail: str = ""
    diagnostics: Mapping[str, str] = field(default_factory=dict)
    mirror: bool = True
    t_ms: float = 0.0
    mode: Any = None                          # the mode's own payload (Mode.view())
    source: str = ""                          # which camera (or "demo") the picture comes from
