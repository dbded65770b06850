from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from app.api.deps import NamePath, ReadAccess, ServiceDep, WriteAccess
from app.api.responses import READ_ERRORS, TRAIN_ERRORS, errors
from app.api.routes.train import ACCEPTED, accepted
from app.api.schemas_quality import (
    BacktestRequest,
    BacktestResponse,
    RollbackRequest,
    RollbackResponse,
    VersionList,
)
from app.serving.backtests import BacktestResult

router = APIRouter(tags=["quality"])


@router.post(
    "/backtest",
    response_model=BacktestResponse,
    dependencies=[WriteAccess],
    responses={**TRAIN_ERRORS, **ACCEPTED},
)
async def backtest(body: BacktestRequest, service: ServiceDep) -> BacktestResponse | JSONResponse:
    """Rolling-origin evaluation of a configuration: per-window and mean MAE, RMSE, sMAPE and
    MASE of the model and of the naive and seasonal naive baselines. Nothing is saved. With
    `"wait": false` it answers 202 at once with a job to follow (GET /jobs/{id})."""
    if body.wait:
        return BacktestResponse.of(await service.backtests.run(body))
    return accepted(await service.backtests.start(body, _render))


def _render(result: BacktestResult) -> dict[str, Any]:
    return BacktestResponse.of(result).model_dump(mode="json")


@router.get(
    "/models/{name}/versions",
    response_model=VersionList,
    dependencies=[ReadAccess],
    responses=READ_ERRORS,
)
async def list_versions(name: NamePath, service: ServiceDep) -> VersionList:
    """Every kept version of a model with its status (served, candidate, retired), config,
    holdout metrics and promotion decision, oldest first."""
    return VersionList.of(service.versions.listing(name))


@router.post(
    "/models/{name}/rollback",
    response_model=RollbackResponse,
    dependencies=[WriteAccess],
    responses=errors(400, 401, 404, 409, 413, 422, 507),
)
async def rollback(
    name: NamePath, service: ServiceDep, body: Annotated[RollbackRequest | None, Body()] = None
) -> RollbackResponse:
    """Serve an earlier kept version (default: the newest one older than the served one), or
    any kept version (a candidate too) named in the body."""
    rolled = await service.versions.rollback(name, body.version if body else None)
    return RollbackResponse.after(rolled)
