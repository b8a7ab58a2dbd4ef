"""The Smile Score: pure parts on plain tables, the real landmarker on a real face, dev-set accuracy."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.baseline import Baseline
from core.features import face_features
from core.features import HOG_NAMES
from core.hog import hog
from core.scoring import MODEL_PATH, Scale, ScoreModel, SmileTracker, eye_engagement, load_model, score_face, \
    transform_feature
from core.types import SMILE_LINE as SMILE_AT, FaceObservation, SmileKind, kind_of

REPO = Path(__file__).resolve().parents[1]


# Median neutral positions of the landmarks the features use (head frame, inter-ocular units, y up),
# from GENKI-4K neutral photos: a plausible face without shipping anyone's photo or landmarks.
NEUTRAL = {33: (-0.718, 0.013), 133: (-0.282, -0.012), 263: (0.718, 0.012), 362: (0.282, -0.013),
           160: (-0.617, 0.083), 159: (-0.537, 0.098), 158: (-0.454, 0.091), 144: (-0.588, -0.048),
           145: (-0.506, -0.050), 153: (-0.427, -0.040), 387: (0.615, 0.081), 386: (0.538, 0.097),
           385: (0.453, 0.091), 373: (0.587, -0.048), 374: (0.507, -0.050), 380: (0.425, -0.041),
           161: (-0.666, 0.058), 163: (-0.643, -0.034), 388: (0.666, 0.055), 390: (0.643, -0.036),
           229: (-0.651, -0.189), 230: (-0.519, -0.185), 117: (-0.841, -0.259), 118: (-0.717, -0.297),
           449: (0.651, -0.188), 450: (0.520, -0.185), 346: (0.842, -0.258), 347: (0.718, -0.296),
           105: (-0.683, 0.386), 66: (-0.481, 0.377), 107: (-0.246, 0.342), 334: (0.680, 0.387),
           296: (0.479, 0.376), 336: (0.244, 0.344), 61: (-0.402, -1.090), 291: (0.406, -1.089),
           13: (0.003, -1.069), 14: (0.003, -1.105), 0: (0.002, -0.968), 17: (0.001, -1.262),
           2: (-0.000, -0.720), 10: (-0.002, 0.842), 152: (-0.000, -1.809)}


def fake_face(smile: float = 0.0, squint: float = 0.0, t_ms: float = 0.0, seed: int = 0,
              jitter: float = 0.0, lift: float = 0.0) -> FaceObservation:
    """A frontal neutral face shape (landmarks the features read placed as above, the rest inside
    the face), with chosen blendshapes; `jitter` adds landmark noise and `lift` raises and widens
    the mouth corners, both in inter-ocular units."""
    rng = np.random.default_rng(seed)
    unit = 0.1  # inter-ocular distance as a share of the image width
    pts = np.c_[rng.uniform(0.42, 0.58, (478, 2)), np.zeros(478)].astype(np.float32)
    for i, (x, y) in NEUTRAL.items():
        if i in (61, 291):
            x, y = x + np.sign(x) * lift, y + lift
        pts[i, :2] = (0.5 + unit * x, 0.45 - unit * y * 640 / 480)
    pts[:, :2] += rng.normal(0, jitter * unit, (478, 2))
    blend = {"mouthSmileLeft": smile, "mouthSmileRight": smile, "eyeSquintLeft": squint, "eyeSquintRight": squint}
    return FaceObservation(t_ms=t_ms, landmarks=pts, blendshapes=blend, box=(0.3, 0.3, 0.7, 0.7),
                           image_size=(640, 480), transform=None)


# ---- pure parts -----------------------------------------------------------------------------

def test_shipped_model_is_readable() -> None:
    """Its features are ones face_features computes. (Its accuracy is measured, not read back
    from the file: test_dev_set_accuracy_on_fixed_subset.)"""
    data = json.loads(MODEL_PATH.read_text())
    feats = face_features(fake_face())
    assert {f["name"] for f in data["score"]["features"]} <= set(feats) | set(HOG_NAMES)
    assert {f["name"] for f in data["score_without_mouth"]["features"]} <= set(feats)
    assert set(data["eye"]["cues"]) <= set(feats)


def test_a_face_without_a_mouth_patch_is_scored_by_the_model_made_for_it() -> None:
    """With the patch the main model reads the mouth HOG; without it (a replay recorded without
    pixels) the model fit without the HOG scores the face: never made-up HOG values."""
    model = load_model()
    assert model.uses_mouth and model.without_mouth is not None and not model.without_mouth.uses_mouth
    bare = fake_face(smile=0.6, lift=0.05)
    feats = face_features(bare)
    fallback = model.without_mouth
    assert score_face(bare).score == pytest.approx(fallback.scale(fallback.logit(feats)))
    rng = np.random.default_rng(0)
    patches = [rng.integers(0, 256, (24, 48)).astype(np.uint8), np.full((24, 48), 128, np.uint8)]
    scored = []
    for patch in patches:
        face = dataclasses.replace(bare, mouth=patch)
        scored.append(score_face(face).score)
        assert scored[-1] == pytest.approx(model.main.scale(model.main.logit(feats, hog(patch))))
    assert scored[0] != scored[1]  # the pixels are read


def test_the_main_model_refuses_to_guess_a_missing_hog() -> None:
    with pytest.raises(ValueError, match="mouth HOG"):
        load_model().main.logit(face_features(fake_face()))
    data = json.loads(MODEL_PATH.read_text())
    del data["score_without_mouth"]
    with pytest.raises(ValueError, match="score_without_mouth"):
        ScoreModel.from_dict(data)


def test_the_scale_keeps_50_at_the_decision_and_is_monotone() -> None:
    for part in ("score", "score_without_mouth"):
        scale = Scale.from_dict(json.loads(MODEL_PATH.read_text())[part]["scale"])
        assert scale(0.0) == 50.0
        zs = np.linspace(-40, 40, 4001)
        s = np.array([scale(z) for z in zs])
        assert np.all(np.diff(s) > 0) and s[0] > 0 and s[-1] < 100 and s[-1] > 99.9
        for z, want in zip(scale.logit, (10, 50, 80, 95)):
            assert scale(z) == pytest.approx(want)


@pytest.mark.parametrize("knots", [
    {"logit": [-2, 0, 3], "score": [10, 60, 80]},     # 0 does not read 50
    {"logit": [-2, 0, -3], "score": [10, 50, 80]},    # not rising
    {"logit": [-2, 0, 3], "score": [10, 50, 100]},    # 100 is never reached
])
def test_a_bad_scale_is_refused(knots: dict) -> None:
    with pytest.raises(ValueError, match="scale"):
        Scale.from_dict(knots)


@pytest.mark.parametrize("score, eye, kind", [
    (10, 90, SmileKind.NONE), (49.9, 90, SmileKind.NONE), (50, 49.9, SmileKind.POSED),
    (80, 10, SmileKind.POSED), (50, 50, SmileKind.GENUINE), (95, 80, SmileKind.GENUINE),
])
def test_kind_table(score: float, eye: float, kind: SmileKind) -> None:
    assert kind_of(score, eye) is kind


@pytest.mark.parametrize("x, how, expected", [
    (0.5, "logit", 0.0), (0.0, "logit", math.log(0.005 / 0.995)), (1.0, "logit", math.log(0.995 / 0.005)),
    (0.3, "raw", 0.3),
])
def test_transform_feature(x: float, how: str, expected: float) -> None:
    assert transform_feature(x, how) == pytest.approx(expected)


def test_score_rises_with_the_smile_blendshapes_and_the_mouth_corners() -> None:
    by_blend = [score_face(fake_face(smile=s)).score for s in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)]
    by_shape = [score_face(fake_face(smile=0.9, lift=x)).score for x in (0.0, 0.05, 0.1, 0.15)]
    assert by_blend == sorted(by_blend) and by_shape == sorted(by_shape)
    assert by_blend[0] < 20 and by_shape[0] < SMILE_AT <= by_shape[1] and by_shape[-1] >= 70


def test_score_face_is_unsmoothed_and_bounded() -> None:
    r = score_face(fake_face(smile=0.7, squint=0.6, t_ms=123.0))
    assert r.raw_score == r.score and r.t_ms == 123.0
    assert 0 <= r.score <= 100 and 0 <= r.eye_engagement <= 100


def test_eye_engagement_is_measured_from_the_visitors_own_neutral() -> None:
    model = load_model()
    feats = face_features(fake_face(squint=0.3))
    population = eye_engagement(feats, model)
    own = Baseline(min_frames=1)
    own.update({n: feats[n] for n in model.eye_cues})  # this very face is the visitor's neutral
    assert eye_engagement(feats, model, own) == pytest.approx(100 / (1 + math.exp(model.eye_slope * model.eye_centre)))
    squinting = face_features(fake_face(squint=0.9))
    assert eye_engagement(squinting, model, own) > eye_engagement(feats, model, own)
    assert population != eye_engagement(feats, model, own)


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.integers(0, 1000), st.floats(0, 0.5))
def test_any_face_scores_within_0_100(smile: float, squint: float, seed: int, jitter: float) -> None:
    r = score_face(fake_face(smile, squint, seed=seed, jitter=jitter))
    assert 0 <= r.score <= 100 and 0 <= r.eye_engagement <= 100


def test_baseline_warms_up_then_follows() -> None:
    b = Baseline(min_frames=3, rate=0.1)
    assert b.value("x") is None
    for v in (1.0, 2.0, 3.0):
        b.update({"x": v})
    assert b.ready and b.value("x") == pytest.approx(2.0)  # plain mean while warming up
    b.update({"x": 4.0, "y": float("nan")})
    assert b.value("x") == pytest.approx(2.5) and b.value("y") is None  # weight max(1/4, rate)
    for _ in range(100):
        b.update({"x": 10.0})
    assert b.value("x") == pytest.approx(10.0, abs=1e-3)  # then follows at `rate`
    b.reset()
    assert not b.ready and b.value("x") is None


# ---- the tracker, on a fake clock -----------------------------------------------------------

def test_tracker_none_without_a_face_and_smooths_with_a_face() -> None:
    tr = SmileTracker()
    assert tr.update(None, 0) is None
    first = tr.update(fake_face(0.0), 0)
    assert first is not None and first.kind is SmileKind.NONE
    readings = [tr.update(fake_face(0.9, lift=0.15), t) for t in range(67, 1000, 67)]
    assert readings[0] is not None and readings[0].score < readings[0].raw_score  # smoothed
    assert readings[-1].score >= SMILE_AT and readings[-1].kind is not SmileKind.NONE


def test_tracker_learns_and_forgets_the_visitor() -> None:
    tr = SmileTracker(grace_ms=1000)
    for i in range(20):
        tr.update(fake_face(0.0, t_ms=i * 67), i * 67)
    assert tr.baseline.ready
    assert tr.update(None, 2000) is None and tr.baseline.ready  # a short look away: still known
    tr.update(None, 2500)
    assert not tr.baseline.ready  # gone longer than the grace period: forgotten


def test_tracker_kind_follows_the_number_at_once() -> None:
    """Leaving a smile shows "no smile" in the same frame as the number drops under the line,
    never "7 - posed smile"."""
    tr = SmileTracker(min_cutoff=100, beta=0)  # no smoothing: the line alone
    faces = [fake_face(0.9, lift=0.15), fake_face(0.0)] * 2
    readings = [tr.update(f, t) for f, t in zip(faces, (0, 50, 100, 150))]
    assert [r.kind is SmileKind.NONE for r in readings] == [False, True, False, True]
    assert all((r.score >= SMILE_AT) == (r.kind is not SmileKind.NONE) for r in readings)


def test_tracker_reset() -> None:
    tr = SmileTracker()
    tr.update(fake_face(0.9, lift=0.15), 0)
    tr.reset()
    assert not tr.baseline.ready
    assert tr.update(fake_face(0.0), 10).score == score_face(fake_face(0.0)).score


# ---- the real landmarker on real photos -----------------------------------------------------

@pytest.mark.model
def test_astronaut_smiles(model_cache: Path) -> None:
    import cv2

    from core import assets
    from core.landmarker import MediapipeLandmarker

    path = assets.ensure(assets.ASTRONAUT, model_cache)
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    with MediapipeLandmarker(assets.ensure(assets.MODEL, model_cache), still=True) as lm:
        faces = lm.detect(rgb, 0)
    assert len(faces) == 1 and faces[0].mouth is not None
    r = score_face(faces[0])
    assert r.score >= SMILE_AT and r.kind in (SmileKind.GENUINE, SmileKind.POSED)
    assert score_face(dataclasses.replace(faces[0], mouth=None)).score >= SMILE_AT  # read without its pixels too
    assert 0 <= r.eye_engagement <= 100

    tracker = SmileTracker()  # live: VIDEO mode, through the tracker
    with MediapipeLandmarker(assets.ensure(assets.MODEL, model_cache)) as lm:
        readings = [tracker.update(lm.detect(rgb, t)[0], t) for t in np.arange(0, 1000, 67.0)]
    assert all(x is not None and x.score >= SMILE_AT for x in readings)
    assert np.std([x.score for x in readings]) <= 2.0


def shared_data() -> Path | None:
    for candidate in (os.environ.get("SMILE_MIRROR_DATA"), "/work/shared/data", REPO.parent / "shared" / "data"):
        if candidate and Path(candidate, "genki4k-dev", "labels.csv").is_file():
            return Path(candidate)
    return None


@pytest.mark.model
@pytest.mark.slow
def test_dev_set_accuracy_on_fixed_subset(model_cache: Path) -> None:
    """A fixed random 300 of the GENKI-4K dev photos (seed 0): >= 0.93 accuracy at score 50.

    The whole dev set reads 0.95; a random 300 falls under 0.93 about one time in twenty, so a
    failure here after a retrain means look at the full `smile-mirror eval` figures first."""
    import io
    import re

    from core import assets
    from core.offline.evaluate import run_eval

    data = shared_data()
    if data is None:
        pytest.skip("dev photos not present (../shared/data/genki4k-dev or $SMILE_MIRROR_DATA); "
                    "they are not part of the repository")
    out = io.StringIO()
    assert run_eval(data / "genki4k-dev", assets.ensure(assets.MODEL, model_cache), limit=300, out=out) == 0
    text = out.getvalue()
    acc = float(re.search(r"accuracy at score >= 50: ([0-9.]+) on faces found", text).group(1))
    found = int(re.search(r"(\d+) faces found", text).group(1))
    assert found >= 290, text
    assert acc >= 0.93, text
