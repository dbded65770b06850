from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import NamePath, ReadAccess, ServiceDep, WriteAccess
from app.api.responses import READ_ERRORS, errors
from app.api.schemas import ModelList, ModelOut

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=ModelList, dependencies=[ReadAccess], responses=errors(401))
async def list_models(service: ServiceDep) -> ModelList:
    """Every model with its served version, config and holdout metrics."""
    return ModelList(models=[ModelOut.of(s) for s in service.predictions.models()])


@router.get("/{name}", response_model=ModelOut, dependencies=[ReadAccess], responses=READ_ERRORS)
async def get_model(name: NamePath, service: ServiceDep) -> ModelOut:
    """One model's served version, config, training summary and holdout metrics."""
    return ModelOut.of(service.predictions.snapshot(name))


@router.delete(
    "/{name}",
    status_code=204,
    response_class=Response,
    dependencies=[WriteAccess],
    responses=errors(401, 404, 409, 422),
)
async def delete_model(name: NamePath, service: ServiceDep) -> Response:
    """Remove a model from memory and disk."""
    await service.versions.delete(name)
    return Response(status_code=204)
