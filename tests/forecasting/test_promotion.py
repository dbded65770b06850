from __future__ import annotations

import numpy as np
import pytest

from app.forecasting.evaluation import HoldoutEvaluation, evaluate_holdout
from app.forecasting.promotion import decide_promotion

TRAIN = np.sin(np.arange(48) * 2 * np.pi / 12) + 0.05 * np.arange(48)
ACTUAL = np.sin(np.arange(48, 60) * 2 * np.pi / 12) + 0.05 * np.arange(48, 60)


def scored(predicted: np.ndarray, season: int | None = 12) -> HoldoutEvaluation:
    return evaluate_holdout(TRAIN, ACTUAL, predicted, season)


def test_always_promotes_even_a_bad_model() -> None:
    decision = decide_promotion("always", scored(ACTUAL + 100), None, None)
    assert decision.promoted
    assert decision.policy == "always"


def test_a_model_worse_than_the_naive_baseline_is_not_promoted() -> None:
    bad = scored(np.full(12, TRAIN[-1] + 3.0))
    decision = decide_promotion("if_better", bad, None, None)
    assert not decision.promoted
    assert "worse than the naive baseline" in decision.reason


def test_a_model_worse_than_the_seasonal_naive_baseline_is_not_promoted() -> None:
    slightly_worse = scored(ACTUAL + 0.7)  # naive's MAE is 0.825, seasonal naive's 0.6
    assert slightly_worse.test_mae is not None
    assert slightly_worse.naive_mae is not None
    assert slightly_worse.test_mae < slightly_worse.naive_mae
    decision = decide_promotion("if_better", slightly_worse, None, None)
    assert not decision.promoted
    assert "seasonal naive baseline" in decision.reason


def test_a_good_first_model_is_promoted() -> None:
    decision = decide_promotion("if_better", scored(ACTUAL + 0.01), None, None)
    assert decision.promoted
    assert "no version was being served" in decision.reason


def test_the_serving_version_is_compared_by_mase() -> None:
    good, better = scored(ACTUAL + 0.05), scored(ACTUAL + 0.01)
    assert good.mase is not None
    assert better.mase is not None
    assert not decide_promotion("if_better", good, better, 4).promoted
    decision = decide_promotion("if_better", better, good, 4)
    assert decision.promoted
    assert "serving version 4" in decision.reason
    assert decide_promotion("if_better", good, good, 4).promoted  # ties are no worse


def test_a_serving_version_without_a_holdout_score_only_needs_the_baselines() -> None:
    decision = decide_promotion("if_better", scored(ACTUAL + 0.01), None, 2)
    assert decision.promoted
    assert "no holdout MASE" in decision.reason


@pytest.mark.parametrize("policy", ["if_better", "always"])
def test_no_holdout_is_always_promoted(policy: str) -> None:
    assert decide_promotion(policy, None, None, 1).promoted  # type: ignore[arg-type]
