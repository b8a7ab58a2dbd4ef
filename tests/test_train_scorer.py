"""The numeric core of `core.offline.train_scorer`: the shipped weights are only as good as these."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.scoring import MODEL_PATH, Scale, ScoreModel
from core.offline.train_scorer import S1, S1_ALL, auc, candidate_spec, fit_logistic, folds_by_group, log_loss, matrix, \
    readable_json, rule_prefers_all_blendshapes, scale_knots, without_hog


def test_fit_logistic_recovers_known_weights() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20_000, 3))
    w_true, b_true = np.array([2.0, -1.0, 0.0]), 0.5
    y = (rng.random(20_000) < 1 / (1 + np.exp(-(x @ w_true + b_true)))).astype(float)
    w, b = fit_logistic(x, y, lam=1e-3)
    assert w == pytest.approx(w_true, abs=0.08) and b == pytest.approx(b_true, abs=0.06)
    w_strong, _ = fit_logistic(x, y, lam=1e4)  # L2 shrinks the weights, never the bias
    assert np.abs(w_strong).sum() < 0.5 * np.abs(w).sum()


def test_fit_logistic_survives_separable_data() -> None:
    x = np.r_[np.full((50, 1), -1.0), np.full((50, 1), 1.0)]
    y = np.r_[np.zeros(50), np.ones(50)]
    w, b = fit_logistic(x, y, lam=0.1)  # without L2 the weight would run off to infinity
    assert np.isfinite(w).all() and np.isfinite(b) and w[0] > 1


def brute_auc(score: np.ndarray, positive: np.ndarray) -> float:
    pos, neg = score[positive], score[~positive]
    return float(np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg]))


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_pairwise_counting_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    score = rng.integers(0, 6, 80).astype(float)  # many ties
    positive = rng.random(80) < 0.4
    assert auc(score, positive) == pytest.approx(brute_auc(score, positive))
    assert np.isnan(auc(score, np.zeros(80, bool)))


def test_log_loss_of_a_certain_right_answer_is_near_zero() -> None:
    assert log_loss(np.array([30.0, -30.0]), np.array([1.0, 0.0])) < 1e-12
    assert log_loss(np.array([0.0]), np.array([1.0])) == pytest.approx(np.log(2))


def test_folds_are_stratified_and_reproducible() -> None:
    y = np.r_[np.ones(63), np.zeros(37)]
    fold = folds_by_group(y, 10, seed=3)
    assert np.array_equal(fold, folds_by_group(y, 10, seed=3))
    for f in range(10):
        assert abs(y[fold == f].mean() - y.mean()) < 0.1
        assert 9 <= (fold == f).sum() <= 11


def test_shipped_weights_are_the_declared_feature_set() -> None:
    data = json.loads(MODEL_PATH.read_text())
    spec = candidate_spec(data["cv"]["feature_set"], data["cv"]["always_zero_blendshapes"])
    assert [(f["name"], f["transform"]) for f in data["score"]["features"]] == spec
    assert [(f["name"], f["transform"]) for f in data["score_without_mouth"]["features"]] == without_hog(spec)
    assert readable_json(data) == MODEL_PATH.read_text()  # the file is exactly what the script writes
    ScoreModel.from_dict(data)


def test_the_shipped_choice_follows_the_written_rule() -> None:
    data = json.loads(MODEL_PATH.read_text())
    rule = data["cv"]["rule"]
    assert data["cv"]["feature_set"] == (S1_ALL if rule["all_blendshapes_chosen"] else S1)
    assert rule["all_blendshapes_chosen"] == all(line.startswith("yes") for line in rule["clauses"])


def split(acc: float, loss: float, small: float) -> dict[str, float]:
    return {"accuracy": acc, "log_loss": loss, "small_accuracy": small}


@pytest.mark.parametrize("b, chosen", [
    ([split(0.951, 0.120, 0.950)] * 3, True),   # better everywhere by more than 2%
    ([split(0.951, 0.128, 0.950)] * 3, False),  # lower log-loss, but by under 2%
    ([split(0.951, 0.120, 0.950)] * 2 + [split(0.951, 0.131, 0.950)], False),  # one split worse
    ([split(0.949, 0.120, 0.950)] * 3, False),  # accuracy fell
    ([split(0.951, 0.120, 0.946)] * 3, False),  # small faces lost 0.4 points
    ([split(0.951, 0.120, 0.9475)] * 3, True),  # small faces lost 0.25 points: allowed
])
def test_rule_between_s1_and_all_blendshapes(b: list[dict[str, float]], chosen: bool) -> None:
    a = [split(0.950, 0.130, 0.950)] * 3
    verdict, lines = rule_prefers_all_blendshapes(a, b)
    assert verdict is chosen and len(lines) == 4


def test_scale_knots_put_the_decision_at_50_and_the_top_5_percent_at_95() -> None:
    rng = np.random.default_rng(0)
    z = np.r_[rng.normal(4, 2, 2000), rng.normal(-4, 1.5, 1600), np.nan]
    y = np.r_[np.ones(2000), np.zeros(1600), 1.0]
    scale = Scale.from_dict(scale_knots(z, y))
    scores = np.array([scale(v) for v in z[:-1]])
    assert scale(0.0) == 50.0
    assert np.mean(scores[:2000] >= 95) == pytest.approx(0.05, abs=0.002)
    assert np.median(scores[2000:]) == pytest.approx(10, abs=0.1)
    assert np.all(np.diff(scores[np.argsort(z[:-1])]) >= 0)  # monotone


def test_matrix_takes_the_hog_columns_from_the_hog_rows() -> None:
    spec = [("bs_smile", "logit"), ("g_lip_gap", "raw"), ("mouth_hog_002", "raw"), ("mouth_hog_000", "raw")]
    hogs = np.arange(2 * 360, dtype=float).reshape(2, 360)
    x = matrix([{"bs_smile": 0.5, "g_lip_gap": 0.1}, {"bs_smile": 0.9, "g_lip_gap": 0.2}], spec, hogs)
    assert x[:, 0] == pytest.approx([0.0, np.log(9)]) and x[:, 1] == pytest.approx([0.1, 0.2])
    assert x[:, 2:].tolist() == [[2, 0], [362, 360]]
    with pytest.raises(ValueError, match="after the named"):
        matrix([{"bs_smile": 0.5}], [("mouth_hog_000", "raw"), ("bs_smile", "logit")], hogs[:1])


def test_warm_start_reaches_the_same_solution() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3000, 5))
    y = (rng.random(3000) < 1 / (1 + np.exp(-x @ np.array([1.0, -2.0, 0.5, 0.0, 0.0])))).astype(float)
    cold = fit_logistic(x, y, 1.0)
    warm = fit_logistic(x, y, 1.0, start=fit_logistic(x, y, 100.0))
    assert warm[0] == pytest.approx(cold[0], abs=1e-5) and warm[1] == pytest.approx(cold[1], abs=1e-5)
