"""The numeric core of `core.offline.train_scorer`: the shipped weights are only as good as these."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.scoring import MODEL_PATH, ScoreModel
from core.offline.train_scorer import CANDIDATES, auc, fit_logistic, folds_by_group, log_loss, readable_json


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
    spec = CANDIDATES[data["cv"]["feature_set"]]
    assert [(f["name"], f["transform"]) for f in data["score"]["features"]] == spec
    assert readable_json(data) == MODEL_PATH.read_text()  # the file is exactly what the script writes
    ScoreModel.from_dict(data)
