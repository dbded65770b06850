"""Whether a newly trained version should replace the one being served.

Policy `always` serves every new version. Policy `if_better` serves it only if, on its holdout:

1. its forecast is finite and its MAE is no worse than the naive baseline's and (when a season is
   known) the seasonal naive baseline's on the same holdout (MASE orders them the same way: it is
   MAE over one shared scale); and
2. its MASE is no worse than the MASE the serving version scored on its own holdout when it was
   trained. MASE is scale-free, so the two stay comparable when the series has grown or changed
   since; the serving version's score is out-of-sample (measured before its refit), like the new
   one's. When either MASE is missing (a constant training part, or the serving version was
   trained without a holdout), only rule 1 applies and the reason says so.

A version that fails is kept as a candidate: saved, listed, and servable by a rollback.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from app.forecasting.evaluation import HoldoutEvaluation

PromotePolicy = Literal["if_better", "always"]


@dataclass(frozen=True, slots=True)
class PromotionDecision:
    promoted: bool
    policy: PromotePolicy
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def decide_promotion(
    policy: PromotePolicy,
    candidate: HoldoutEvaluation | None,
    serving: HoldoutEvaluation | None,
    serving_version: int | None,
) -> PromotionDecision:
    """Apply `policy` to the candidate's holdout scores (rules in the module docstring)."""
    if policy == "always":
        return PromotionDecision(True, policy, "promote 'always': served without comparison")
    if candidate is None or candidate.test_size == 0:
        return PromotionDecision(True, policy, "no holdout (test_size 0): nothing to compare")
    if candidate.test_mae is None:
        return PromotionDecision(False, policy, "its holdout forecast is not finite")
    baselines = [("naive", candidate.naive_mae), ("seasonal naive", candidate.seasonal_naive_mae)]
    for label, baseline in baselines:
        if baseline is not None and candidate.test_mae > baseline:
            return PromotionDecision(
                False,
                policy,
                f"holdout MAE {_fmt(candidate.test_mae)} is worse than the {label} baseline's "
                f"{_fmt(baseline)}",
            )
    beaten = " and ".join(
        f"{label} ({_fmt(baseline)})" for label, baseline in baselines if baseline is not None
    )
    reason = f"holdout MAE {_fmt(candidate.test_mae)} is no worse than {beaten}"
    if serving_version is None:
        return PromotionDecision(True, policy, f"{reason}; no version was being served")
    if serving is None or serving.mase is None or candidate.mase is None:
        return PromotionDecision(
            True, policy, f"{reason}; version {serving_version} has no holdout MASE to compare"
        )
    if candidate.mase > serving.mase:
        return PromotionDecision(
            False,
            policy,
            f"holdout MASE {_fmt(candidate.mase)} is worse than serving version "
            f"{serving_version}'s {_fmt(serving.mase)}",
        )
    return PromotionDecision(
        True,
        policy,
        f"{reason}; MASE {_fmt(candidate.mase)} is no worse than serving version "
        f"{serving_version}'s {_fmt(serving.mase)}",
    )
