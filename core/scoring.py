"""The Smile Score: pure functions from a FaceObservation (+ the visitor's baseline) to a reading.

Score: a small logistic model over blendshapes, pose-free geometry and the mouth's appearance
(a HOG of the mouth patch the landmarker cut from the frame), trained by `core.offline.train_scorer`,
weights in `score_model.json`. Its logit z goes through a monotone scale (`Scale`): z = 0 (even
odds of "smiling") is exactly 50, a relaxed neutral face reads about 10, a broad smile about 80
and the broadest grins 95 and above. An observation without a mouth patch is scored by a second
model fit without the HOG. Eye engagement: anatomy, not learning: how far the eye aperture,
lower lid, infra-orbital cheek and eyeSquint have moved from the neutral face (the visitor's own
once learned, else the population's), in neutral standard deviations. See core/SCORE.md.
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
from core.features import face_features, mouth_hog
from core.smoothing import OneEuroFilter, StickyLine
from core.types import GENUINE_LINE, SMILE_LINE, FaceObservation, SmileReading, kind_of

log = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).with_name("score_model.json")
SMILE_BAND = 4.0   # a tracked smile stops being one only below SMILE_LINE minus this
GENUINE_BAND = 6.0  # ... and a tracked genuine smile stops being genuine below GENUINE_LINE minus this
NEUTRAL_BELOW = 30.0  # frames scoring under this teach the visitor's neutral baseline
CLIP_SD = 5.0  # standardised features are clipped here: a misplaced landmark cannot dominate the score
HOG_PREFIX = "mouth_hog_"  # score features with this name come from the mouth HOG (core.features.HOG_NAMES)


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
class Scale:
    """The monotone map from a model's logit to the 0-100 score.

    Piecewise linear in log-odds through knots (logit -> score), the outer slopes carried on
    beyond the outer knots, then `100 * sigmoid`. A knot at logit 0 -> 50 keeps the model's
    decision at 50; the others are fit by `core.offline.train_scorer` so a relaxed face reads 10, a
    broad smile 80 and the broadest grins 95 and above (see core/SCORE.md).
    """

    logit: np.ndarray
    log_odds: np.ndarray

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Scale":
        z, s = np.array(d["logit"], float), np.array(d["score"], float)
        if len(z) < 2 or len(z) != len(s) or np.any(np.diff(z) <= 0) or np.any(np.diff(s) <= 0) \
                or np.any((s <= 0) | (s >= 100)):
            raise ValueError(f"score scale knots must rise together, scores inside (0, 100): {dict(d)}")
        if not np.any((z == 0) & (s == SMILE_LINE)):
            raise ValueError(f"score scale must map logit 0 to {SMILE_LINE:g} (the decision): {dict(d)}")
        return cls(z, np.log(s / (100.0 - s)))

    def __call__(self, z: float) -> float:
        k, u = self.logit, self.log_odds
        if z <= k[0]:
            v = u[0] + (z - k[0]) * (u[1] - u[0]) / (k[1] - k[0])
        elif z >= k[-1]:
            v = u[-1] + (z - k[-1]) * (u[-1] - u[-2]) / (k[-1] - k[-2])
        else:
            v = float(np.interp(z, k, u))
        return 100.0 * _sigmoid(v)


@dataclass(frozen=True, slots=True)
class Logistic:
    """One learned logistic model: standardised features (clipped), weights, bias, scale.

    Features named `mouth_hog_NNN` are taken from the mouth HOG array, the rest by name from
    the feature mapping; 'logit' features are blendshapes stretched onto an unbounded scale.
    """

    names: tuple[str, ...]
    transforms: tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    weight: np.ndarray
    bias: float
    scale: Scale
    named_at: np.ndarray  # positions of the features read by name
    hog_at: np.ndarray    # positions of the HOG values ...
    hog_index: np.ndarray  # ... and which HOG value each one is
    logit_at: np.ndarray  # positions that get the 'logit' transform

    @property
    def uses_mouth(self) -> bool:
        return len(self.hog_at) > 0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Logistic":
        feats = d["features"]
        names = tuple(f["name"] for f in feats)
        transforms = tuple(f["transform"] for f in feats)
        for h in set(transforms) - {"raw", "logit"}:
            raise ValueError(f"unknown feature transform {h!r}")
        hog = [i for i, n in enumerate(names) if n.startswith(HOG_PREFIX)]
        return cls(
            names=names, transforms=transforms,
            mean=np.array([f["mean"] for f in feats], float), sd=np.array([f["sd"] for f in feats], float),
            weight=np.array([f["weight"] for f in feats], float), bias=float(d["bias"]),
            scale=Scale.from_dict(d["scale"]),
            named_at=np.array([i for i in range(len(names)) if i not in set(hog)], np.intp),
            hog_at=np.array(hog, np.intp), hog_index=np.array([int(names[i][len(HOG_PREFIX):]) for i in hog], np.intp),
            logit_at=np.array([i for i, h in enumerate(transforms) if h == "logit"], np.intp))

    def logit(self, feats: Mapping[str, float], hog: np.ndarray | None = None) -> float:
        x = np.empty(len(self.names))
        x[self.named_at] = [feats[self.names[i]] for i in self.named_at]
        if self.uses_mouth:
            if hog is None:
                raise ValueError("this score model reads the mouth HOG and none was given")
            x[self.hog_at] = hog[self.hog_index]
        p = np.clip(x[self.logit_at], 0.005, 0.995)
        x[self.logit_at] = np.log(p / (1.0 - p))
        return float(np.clip((x - self.mean) / self.sd, -CLIP_SD, CLIP_SD) @ self.weight + self.bias)


@dataclass(frozen=True, slots=True)
class ScoreModel:
    """The learned score model(s) and the eye-engagement constants, as read from score_model.json.

    `main` may read the mouth's pixels (its HOG); `without_mouth`, fit in the same run on the
    same photos from the other features, scores an observation that came without its mouth
    patch (a replay recorded without pixels), so such a face is scored by a model made for it
    rather than by the main one with made-up HOG values.
    """

    main: Logistic
    without_mouth: Logistic | None
    eye_cues: Mapping[str, Mapping[str, float]]
    eye_centre: float
    eye_slope: float

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ScoreModel":
        main = Logistic.from_dict(d["score"])
        fallback = Logistic.from_dict(d["score_without_mouth"]) if "score_without_mouth" in d else None
        if fallback is not None and fallback.uses_mouth:
            raise ValueError("score_without_mouth must not read the mouth HOG")
        if main.uses_mouth and fallback is None:
            raise ValueError("a score model that reads the mouth HOG needs a score_without_mouth model")
        return cls(main=main, without_mouth=fallback, eye_cues=d["eye"]["cues"],
                   eye_centre=float(d["eye"]["centre"]), eye_slope=float(d["eye"]["slope"]))

    @classmethod
    def load(cls, path: Path) -> "ScoreModel":
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    @property
    def uses_mouth(self) -> bool:
        return self.main.uses_mouth

    def model_for(self, hog: np.ndarray | None) -> Logistic:
        """The main model, or the one made for faces without a mouth patch when `hog` is None."""
        return self.main if hog is not None or self.without_mouth is None else self.without_mouth

    def logit(self, feats: Mapping[str, float], hog: np.ndarray | None = None) -> float:
        return self.model_for(hog).logit(feats, hog)

    def score(self, feats: Mapping[str, float], hog: np.ndarray | None = None) -> float:
        """0-100; 50 is even odds of smiling; see `Scale`."""
        m = self.model_for(hog)
        return m.scale(m.logit(feats, hog))


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


def score_face(obs: FaceObservation, baseline: Baseline | None = None, model: ScoreModel | None = None) -> SmileReading:
    """Score one face from one frame, unsmoothed (`raw_score == score`)."""
    model = model or load_model()
    feats = face_features(obs)
    hog = mouth_hog(obs) if model.uses_mouth else None
    score = float(np.clip(model.score(feats, hog), 0.0, 100.0))
    eye = float(np.clip(eye_engagement(feats, model, baseline), 0.0, 100.0))
    return SmileReading(t_ms=obs.t_ms, score=score, kind=kind_of(score, eye), eye_engagement=eye, box=obs.box,
                        raw_score=score, features=feats)


class SmileTracker:
    """Per-visitor state for ONE tracked face: smoothing, kind hysteresis, neutral baseline.

    `update(obs, t_ms)` returns the displayed reading (None when there is no face). The score
    and eye engagement go through One Euro filters (steady when still, quick on a change), then
    through a band at their line (`StickyLine`): the score reaches the smiling line at once but
    leaves it only below SMILE_LINE - SMILE_BAND, and is held at the line in between; the eye
    engagement likewise at the genuine line. The kind is derived from those displayed numbers
    (`kind_of`), so it changes in the same frame as the number and never contradicts it, and
    a face held at the line does not flicker. Frames that read as
    clearly not smiling teach the visitor's neutral eyes; when the face has been gone for
    `grace_ms` everything is forgotten (the next face is probably someone else).
    """

    def __init__(self, *, min_cutoff: float = 0.5, beta: float = 0.01, d_cutoff: float = 1.0,
                 smile_band: float = SMILE_BAND, genuine_band: float = GENUINE_BAND, grace_ms: float = 1500.0,
                 model: ScoreModel | None = None) -> None:
        self._score = OneEuroFilter(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff)
        self._eye = OneEuroFilter(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff)
        self._score_line = StickyLine(at=SMILE_LINE, band=smile_band)
        self._eye_line = StickyLine(at=GENUINE_LINE, band=genuine_band)
        self.baseline = Baseline()
        self.grace_ms = grace_ms
        self.model = model
        self._last_seen: float | None = None

    def reset(self) -> None:
        self._score.reset()
        self._eye.reset()
        self._score_line.reset()
        self._eye_line.reset()
        self.baseline.reset()
        self._last_seen = None

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
        score = self._score_line(float(np.clip(self._score(raw.raw_score, t_ms), 0.0, 100.0)))
        eye = self._eye_line(float(np.clip(self._eye(raw.eye_engagement, t_ms), 0.0, 100.0)))
        return SmileReading(t_ms=t_ms, score=score, kind=kind_of(score, eye), eye_engagement=eye, box=obs.box,
                            raw_score=raw.raw_score, features=raw.features)
