"""What a checkpoint records about its version besides the model: `VersionMetadata`.

It travels typed from the worker that trains a version to the answers that describe it; only
the checkpoint codec (checkpoint.py) sees it as JSON, through `to_dict` and `from_dict`. Files
written before a field existed load with that field None; keys this code does not know (from a
newer replica sharing the store) are ignored, so a rolling update can read what it wrote.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

from app.forecasting.auto import AutoChoice
from app.forecasting.promotion import PromotePolicy, PromotionDecision
from app.forecasting.timestamps import TimeIndex


def utc_now() -> str:
    """Now as the service writes every timestamp: ISO-8601 UTC, milliseconds, a `Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Choices:
    """What a training left to `auto`, as resolved (auto.py)."""

    window_size: AutoChoice
    season_length: AutoChoice
    difference: AutoChoice | None = None  # None in versions trained before differencing

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_size": self.window_size.to_dict(),
            "season_length": self.season_length.to_dict(),
            "difference": self.difference.to_dict() if self.difference else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Choices:
        difference = data.get("difference")
        return cls(
            AutoChoice.from_dict(data["window_size"]),
            AutoChoice.from_dict(data["season_length"]),
            AutoChoice.from_dict(difference) if difference is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Promotion:
    """The publish decision made when the version was trained (promotion.py)."""

    promoted: bool
    policy: PromotePolicy
    reason: str
    served_version: int | None  # the version served after the decision

    @classmethod
    def of(cls, decision: PromotionDecision, served_version: int | None) -> Promotion:
        return cls(decision.promoted, decision.policy, decision.reason, served_version)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Promotion:
        policy = data["policy"]
        if policy not in get_args(PromotePolicy):
            raise ValueError(f"unknown promotion policy {policy!r}")
        served = data.get("served_version")
        return cls(bool(data["promoted"]), policy, str(data["reason"]), _optional_int(served))


@dataclass(frozen=True, slots=True)
class VersionMetadata:
    """Which version of which model this is, when it was made, and how it was chosen."""

    name: str
    version: int
    created_at: str = ""
    choices: Choices | None = None
    time_index: TimeIndex | None = None  # when the training series was observed
    promotion: Promotion | None = None  # set when the version is published or kept

    def promoted(self, promotion: Promotion) -> VersionMetadata:
        return dataclasses.replace(self, promotion=promotion)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "created_at": self.created_at,
        }
        if self.choices is not None:
            data["choices"] = self.choices.to_dict()
        if self.time_index is not None:
            data["time_index"] = self.time_index.to_dict()
        if self.promotion is not None:
            data["promotion"] = self.promotion.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VersionMetadata:
        """Raises KeyError, TypeError or ValueError on contents it cannot read."""
        name, version = data["name"], data["version"]
        if not isinstance(name, str) or not isinstance(version, int):
            raise TypeError(f"name and version must be a string and an integer; got {data!r}")
        choices, index, promotion = (data.get(k) for k in ("choices", "time_index", "promotion"))
        return cls(
            name=name,
            version=version,
            created_at=str(data.get("created_at", "")),
            choices=Choices.from_dict(choices) if choices is not None else None,
            time_index=TimeIndex.from_dict(index) if index is not None else None,
            promotion=Promotion.from_dict(promotion) if promotion is not None else None,
        )


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int):
        raise TypeError(f"expected an integer or null, got {value!r}")
    return value
