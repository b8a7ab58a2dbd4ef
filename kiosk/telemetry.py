"""The one seam through which the mirror tells the venue's tools what it is doing.

The app loop reports anonymous facts here and nowhere else: counts (a visitor arrived, a smile
began, a photo was saved), gauges (display fps, inference ms, camera state) and observations
for histograms (score, score latency). Never an image, a position or an identity: the
methods take a name from the fixed tables below and a number, nothing else.

Every method is called on the display thread and must return at once: an exporter only
updates memory here, and its network work (an HTTP scrape, an MQTT publish) runs on threads
of its own. `NullTelemetry` is the default; `FanOut` feeds several exporters.

Modes report their own counts through an optional `facts()` method (cumulative counts by
the names in COUNTERS); a mode that has no photos or trials simply never reports them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Mapping, Protocol

from core.types import SmileKind, SmileReading

log = logging.getLogger(__name__)

# name -> help; exporters name them by their own conventions (Prometheus adds `_total`).
COUNTERS: dict[str, str] = {
    "visitors": "Visitors seen (a face after nobody)",
    "smiles": "Smile onsets of the main visitor",
    "genuine_smiles": "Eye-engaged (Duchenne) smile onsets",
    "photos": "Photos saved by the photo booth",
    "prints": "Photos printed",
    "contagion_trials": "Contagion experiment trials shown",
    "contagion_responses": "Contagion trials answered by a smile",
    "coach_sessions": "Eye-smile coach sessions started",
    "readings": "Inference results (with or without a face)",
}
# name -> (help, unit); values in base units (seconds, not ms)
GAUGES: dict[str, str] = {
    "display_fps": "Frames shown per second over the last interval",
    "score_rate": "Inference results per second over the last interval",
    "inference_seconds": "Mean inference time of one frame",
    "skipped_frames": "Camera frames not scored (busy or rate limit) since start",
    "camera_up": "1 while camera frames flow, else 0",
}
HISTOGRAMS: dict[str, tuple[str, tuple[float, ...]]] = {
    "score": ("Smile Score of the main visitor per reading (0-100)", tuple(float(b) for b in range(10, 101, 10))),
    "score_latency_seconds": ("From camera frame to finished reading",
                              (0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)),
}


class Telemetry(Protocol):
    def count(self, name: str, n: int = 1) -> None: ...
    def gauge(self, name: str, value: float) -> None: ...
    def observe(self, name: str, value: float) -> None: ...
    def close(self) -> None: ...


class NullTelemetry:
    """Reports nowhere: the default, and what runs when both exporters are off."""

    def count(self, name: str, n: int = 1) -> None: ...
    def gauge(self, name: str, value: float) -> None: ...
    def observe(self, name: str, value: float) -> None: ...
    def close(self) -> None: ...


class FanOut:
    """Several exporters behind one Telemetry; one failing exporter never stops the others
    (nor the mirror)."""

    def __init__(self, sinks: Iterable[Telemetry]) -> None:
        self.sinks = list(sinks)

    def _each(self, method: str, *args) -> None:
        for sink in self.sinks:
            try:
                getattr(sink, method)(*args)
            except Exception:
                log.exception("telemetry %s failed in %s; carrying on", method, type(sink).__name__)

    def count(self, name: str, n: int = 1) -> None:
        self._each("count", name, n)

    def gauge(self, name: str, value: float) -> None:
        self._each("gauge", name, value)

    def observe(self, name: str, value: float) -> None:
        self._each("observe", name, value)

    def close(self) -> None:
        self._each("close")


def check_name(table: Mapping[str, object], name: str) -> None:
    if name not in table:
        raise ValueError(f"unknown telemetry name {name!r}")


@dataclass(slots=True)
class Onsets:
    """Visitor, smile and genuine-smile onsets from the stream of main readings: a pure
    edge detector (the same reading stream gives the same counts, on any machine)."""

    face: bool = False
    smiling: bool = False
    genuine: bool = False

    def step(self, reading: SmileReading | None) -> dict[str, int]:
        face = reading is not None
        smiling = face and reading.smiling
        genuine = smiling and reading.kind is SmileKind.GENUINE
        out = {"visitors": int(face and not self.face), "smiles": int(smiling and not self.smiling),
               "genuine_smiles": int(genuine and not self.genuine)}
        self.face, self.smiling, self.genuine = face, smiling, genuine
        return {k: v for k, v in out.items() if v}


@dataclass(slots=True)
class ModeFacts:
    """Turns a mode's cumulative `facts()` into increments for Telemetry.count."""

    last: dict | None = None

    def step(self, facts: Mapping[str, int]) -> dict[str, int]:
        last = self.last or {}
        out = {k: int(v) - int(last.get(k, 0)) for k, v in facts.items() if k in COUNTERS}
        self.last = dict(facts)
        return {k: v for k, v in out.items() if v > 0}
