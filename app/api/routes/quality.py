from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from fastapi.responses import JSONResponse

from app.api.deps import JobsDep, QualityDep, ReadAccess, WriteAccess
from app.api.responses import READ_ERRORS, TRAIN_ERRORS, errors
from app.api.routes.train import ACCEPTED, accepted
from app.api.schemas import ModelOut
from app.api.schemas_quality import (
    BacktestRequest,
    BacktestResponse,
    RollbackRequest,
    RollbackResponse,
    VersionList,
    VersionOut,
)
from app.forecasting.backtest import window_origins
from app.jobs import JobContext
from app.quality import BacktestPlan, QualityService
from app.quality_rules import TimeInput, resolve_training_choices
from app.service import DEFAULT_MODEL, TrainSpec
from app.store import MODEL_NAME_PATTERN

router = APIRouter(tags=["quality"])
NamePath = Annotated[str, Path(pattern=MODEL_NAME_PATTERN, examples=["default"])]


@router.post(
    "/backtest",
    response_model=BacktestResponse,
    dependencies=[WriteAccess],
    responses={**TRAIN_ERRORS, **ACCEPTED},
)
async def backtest(
    body: BacktestRequest, quality: QualityDep, jobs: JobsDep
) -> BacktestResponse | JSONResponse:
    """Rolling-origin evaluation of a configuration: per-window and mean MAE, RMSE, sMAPE and
    MASE of the model and of the naive and seasonal naive baselines. Nothing is saved. With
    `"wait": false` it answers 202 at once with a job to follow (GET /jobs/{id})."""
    spec, plan = to_backtest(body)
    if body.wait:
        return await _backtest(quality, spec, plan)

    async def work(context: JobContext) -> dict[str, Any]:
        return (await _backtest(quality, spec, plan)).model_dump(mode="json")

    return accepted(jobs.submit("backtest", work, subject=spec.name))


async def _backtest(
    quality: QualityService, spec: TrainSpec, plan: BacktestPlan
) -> BacktestResponse:
    report = await quality.backtest(spec, plan)
    assert spec.choices is not None  # to_backtest always resolves them
    return BacktestResponse.of(report, spec.model_config.to_dict(), spec.choices)


@router.get(
    "/models/{name}/versions",
    response_model=VersionList,
    dependencies=[ReadAccess],
    responses=READ_ERRORS,
)
async def list_versions(name: NamePath, quality: QualityDep) -> VersionList:
    """Every kept version of a model with its status (served, candidate, retired), config,
    holdout metrics and promotion decision, oldest first."""
    versions = quality.versions(name)
    return VersionList(
        model=name,
        served_version=quality.store.served_version(name),
        keep_versions=quality.store.keep_versions,
        versions=[VersionOut.of(v) for v in versions],
    )


@router.post(
    "/models/{name}/rollback",
    response_model=RollbackResponse,
    dependencies=[WriteAccess],
    responses=errors(400, 401, 404, 409, 413, 422, 507),
)
async def rollback(
    name: NamePath, quality: QualityDep, body: Annotated[RollbackRequest | None, Body()] = None
) -> RollbackResponse:
    """Serve an earlier kept version (default: the newest one older than the served one), or
    any kept version (a candidate too) named in the body."""
    snapshot, previous = await quality.rollback(name, body.version if body else None)
    served = ModelOut.from_snapshot(snapshot).model_dump()
    return RollbackResponse(**served, previous_version=previous)


def to_backtest(body: BacktestRequest) -> tuple[TrainSpec, BacktestPlan]:
    """The spec and plan of a backtest; `auto` sees only the values before the first origin."""
    step = body.step or body.horizon
    first_origin = window_origins(len(body.series), body.n_windows, body.horizon, step)[0]
    choices = resolve_training_choices(
        body.series,
        window_size=body.window_size,
        season_length=body.season_length,
        difference=body.difference,
        test_size=min(len(body.series), max(0, len(body.series) - first_origin)),
        promote="always",
        time=TimeInput(body.timestamps, body.start, body.freq),
        tutorial=body.model == DEFAULT_MODEL,
    )
    spec = TrainSpec(
        name=body.model,
        series=body.series,
        model_config=choices.model_config(
            hidden_size=body.hidden_size, num_layers=body.num_layers, cell=body.cell
        ),
        test_size=0,
        season_length=choices.season_length.value,
        epochs=body.epochs,
        learning_rate=body.learning_rate,
        batch_size=body.batch_size,
        seed=body.seed,
        choices=choices,
    )
    return spec, BacktestPlan(body.n_windows, body.horizon, step, body.refit)
