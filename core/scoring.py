"""The Smile Score: pure functions from a FaceObservation (+ the visitor's baseline) to a reading.

Score: a small logistic model over blendshape and pose-free geometry features (trained by
`core.offline.train_scorer`, weights in `score_model.json`). Its logit z gives `score = 100 * sigmoid(z / T)`:
z = 0 (even odds of "smiling") is exactly 50; one temperature T above 50 makes a broad smile read
about 80, another below 50 makes a relaxed neutral face read about 10 (monotonic, continuous). Eye engagement: anatomy, not learning: how far the eye aperture, lower lid,
infra-orbital cheek and eyeSquint have moved from the neutral face (the visitor's own once
learned, else the population's), in neutral standard deviations. See core/SCORE.md.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from core.baseline import Baseline
from core.features import face_features
from core.smoothing import Hysteresis, OneEuroFilter, band
from core.types import SMILE_AT, FaceObservation, SmileKind, SmileReading

log = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).with_name("score_model.json")
GENUINE_AT = 50.0  # eye engagement at which a smile counts as genuine
GENUINE_OFF = 44.0  # ... and below which a tracked genuine smile stops being genuine
NEUTRAL_BELOW = 30.0  # frames scoring under this teach the visitor's neutral baseline
CLIP_SD = 5.0  # standardised features are clipped here: a misplaced landmark cannot dominate the score


def _sigmoid(x: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * x))


def transform_feature(x: float, how: str) -> float:
    """Put a feature on the scale the model was trained on: 'raw', or 'logit' for blendshapes."""
    if how == "raw":
        return float(x)
    if how == "logit":
        p = min(max(float(x), 0.005), 0.995)
        return math.log(p / (1.0 - p))
    raise ValueError(f"unknown feature transform {how!r}")


@dataclass(frozen=True, slots=True)
class ScoreModel:
    """The learned score weights and the eye-engagement constants, as read from score_model.json."""

    names: tuple[str, ...]
    transforms: tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    weight: np.ndarray
    bias: float
    temperature: float
    temperature_low: float
    eye_cues: Mapping[str, Mapping[str, float]]
    eye_centre: float
    eye_slope: float

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ScoreModel":
        feats = d["score"]["features"]
        return cls(
            names=tuple(f["name"] for f in feats), transforms=tuple(f["transform"] for f in feats),
            mean=np.array([f["mean"] for f in feats], float), sd=np.array([f["sd"] for f in feats], float),
            weight=np.array([f["weight"] for f in feats], float), bias=float(d["score"]["bias"]),
            temperature=float(d["score"]["temperature"]),
            temperature_low=float(d["score"].get("temperature_below_50", d["score"]["temperature"])), eye_cues=d["eye"]["cues"],
            eye_centre=float(d["eye"]["centre"]), eye_slope=float(d["eye"]["slope"]))

    @classmethod
    def load(cls, path: Path) -> "ScoreModel":
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def logit(self, feats: Mapping[str, float]) -> float:
        x = np.array([transform_feature(feats[n], h) for n, h in zip(self.names, self.transforms)])
        return float(np.clip((x - self.mean) / self.sd, -CLIP_SD, CLIP_SD) @ self.weight + self.bias)

    def score(self, feats: Mapping[str, float]) -> float:
        """0-100; 50 is even odds of smiling; see the module docstring."""
        z = self.logit(feats)
        return 100.0 * _sigmoid(z / (self.temperature if z >= 0 else self.temperature_low))


@functools.lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> ScoreModel:
    """The shipped model (cached: read once per process)."""
    return ScoreModel.load(path)


def eye_engagement(feats: Mapping[str, float], model: ScoreModel, baseline: Baseline | None = None) -> float:
    """0-100: how much the eyes take part, from the movement of each eye cue away from neutral.

    Each cue is measured in neutral standard deviations (population SD) from the visitor's own
    neutral when the baseline knows it, else from the population's neutral mean; the mean of the
    cues passes through a logistic so that 1 SD on average reads 50.
    """
    zs = []
    for name, c in model.eye_cues.items():
        ref = baseline.value(name) if baseline is not None else None
        ref = c["mean"] if ref is None else ref
        zs.append(c["sign"] * (feats[name] - ref) / c["sd"])
    e = float(np.mean(zs))
    return 100.0 * _sigmoid(model.eye_slope * (e - model.eye_centre))


def kind_of(score: float, eye: float) -> SmileKind:
    """Genuine: smiling with the eyes engaged; posed: smiling without; none: not smiling."""
    if score < SMILE_AT:
        return SmileKind.NONE
    return SmileKind.GENUINE if eye >= GENUINE_AT else SmileKind.POSED


def score_face(obs: FaceObservation, baseline: Baseline | None = None, model: ScoreModel | None = None) -> SmileReading:
    """Score one face from one frame, unsmoothed (`raw_score == score`)."""
    model = model or load_model()
    feats = face_features(obs)
    score = float(np.clip(model.score(feats), 0.0, 100.0))
    eye = float(np.clip(eye_engagement(feats, model, baseline), 0.0, 100.0))
    return SmileReading(t_ms=obs.t_ms, score=score, kind=kind_of(score, eye), eye_engagement=eye, box=obs.box,
                        raw_score=score, features=feats)


class SmileTracker:
    """Per-visitor state for ONE tracked face: smoothing, kind hysteresis, neutral baseline.

    `update(obs, t_ms)` returns the displayed reading (None when there is no face). The score
    and eye engagement go through One Euro filters (steady when still, quick on a change); eye
    engagement switches "genuine" on at 50 and off only below 44; and the displayed kind changes
    only after the new kind has held for `kind_hold_ms`. Frames that read as
    clearly not smiling teach the visitor's neutral eyes; when the face has been gone for
    `grace_ms` everything is forgotten (the next face is probably someone else).
    """

    def __init__(self, *, min_cutoff: float = 0.5, beta: float = 0.01, d_cutoff: float = 1.0,
                 kind_hold_ms: float = 300.0, grace_ms: float = 1500.0, model: ScoreModel | None = None) -> None:
        self._score = OneEuroFilter(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff)
        self._eye = OneEuroFilter(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff)
        self._kind: Hysteresis[SmileKind] = Hysteresis(hold_ms=kind_hold_ms)
        self.baseline = Baseline()
        self.grace_ms = grace_ms
        self.model = model
        self._last_seen: float | None = None
        self._engaged = False

    def reset(self) -> None:
        self._score.reset()
        self._eye.reset()
        self._kind.reset()
        self.baseline.reset()
        self._last_seen = None
        self._engaged = False

    def update(self, obs: FaceObservation | None, t_ms: float) -> SmileReading | None:
        if obs is None:
            if self._last_seen is not None and t_ms - self._last_seen > self.grace_ms:
                log.debug("face gone for %.0f ms: forgetting the visitor", t_ms - self._last_seen)
                self.reset()
            return None
        if self._last_seen is not None and t_ms - self._last_seen > self.grace_ms:
            self.reset()  # a face after a long gap: treat it as a new visitor
        self._last_seen = t_ms
        model = self.model or load_model()
        raw = score_face(obs, self.baseline, model)
        if raw.raw_score < NEUTRAL_BELOW:
            self.baseline.update({n: raw.features[n] for n in model.eye_cues})
        score = float(np.clip(self._score(raw.raw_score, t_ms), 0.0, 100.0))
        eye = float(np.clip(self._eye(raw.eye_engagement, t_ms), 0.0, 100.0))
        self._engaged = band(eye, self._engaged, on=GENUINE_AT, off=GENUINE_OFF)
        proposed = SmileKind.NONE if score < SMILE_AT else (SmileKind.GENUINE if self._engaged else SmileKind.POSED)
        kind = self._kind(proposed, t_ms)
        return SmileReading(t_ms=t_ms, score=score, kind=kind, eye_engagement=eye, box=obs.box,
                            raw_score=raw.raw_score, features=raw.features)
