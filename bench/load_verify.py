"""Check that every 200 body a load run received matches the model version it names.

A fixed request gets one answer per version. Each distinct body is recomputed from that
version's checkpoint on disk (the server keeps every version during the benchmark), so a
response that mixed one version's number with another's label would be caught.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.forecasting import Forecaster
from app.forecasting.checkpoint import load_checkpoint

TOLERANCE = 1e-9


@dataclass
class Consistency:
    responses: int = 0
    versions: set[int] = field(default_factory=set)
    mismatches: list[str] = field(default_factory=list)


class Checker:
    def __init__(self, store: Path, model: str, window: list[float], horizon: int) -> None:
        self.directory = store / model
        self.window = window
        self.horizon = horizon
        self._models: dict[int, Forecaster] = {}
        self.result = Consistency()

    def _forecaster(self, version: int) -> Forecaster:
        if version not in self._models:
            path = self.directory / f"v{version:06d}.ckpt"
            self._models[version] = load_checkpoint(path)[0]
        return self._models[version]

    def check(self, bodies: dict[str, int]) -> None:
        """`bodies`: distinct /predict-next or /forecast 200 bodies -> how often each came."""
        for body, count in bodies.items():
            answer = json.loads(body)
            version = int(answer["version"])
            forecaster = self._forecaster(version)
            if "prediction" in answer:
                expected = np.array([forecaster.predict_next(self.window)])
                got = np.array([answer["prediction"]])
            else:
                expected = forecaster.forecast(self.horizon, None)
                got = np.array(answer["forecast"])
            self.result.responses += count
            self.result.versions.add(version)
            if got.shape != expected.shape or np.max(np.abs(got - expected)) > TOLERANCE:
                self.result.mismatches.append(f"version {version}: {body[:120]}")
