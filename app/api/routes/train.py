from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ServiceDep, WriteAccess
from app.api.responses import TRAIN_ERRORS
from app.api.schemas import ModelOut, TrainRequest
from app.quality_rules import TimeInput, resolve_training_choices
from app.service import DEFAULT_MODEL, TrainSpec

router = APIRouter(tags=["train"])


@router.post("/train", response_model=ModelOut, dependencies=[WriteAccess], responses=TRAIN_ERRORS)
async def train(body: TrainRequest, service: ServiceDep) -> ModelOut:
    """Train a new version of a model on `series` and publish it; the old version serves until
    then. Holds out the last `test_size` points and reports the holdout scores."""
    snapshot = await service.train(to_spec(body))
    return ModelOut.from_snapshot(snapshot)


def to_spec(body: TrainRequest) -> TrainSpec:
    choices = resolve_training_choices(
        body.series,
        window_size=body.window_size,
        season_length=body.season_length,
        difference=body.difference,
        test_size=body.test_size,
        promote=body.promote,
        time=TimeInput(body.timestamps, body.start, body.freq),
        tutorial=body.model == DEFAULT_MODEL,
    )
    return TrainSpec(
        name=body.model,
        series=body.series,
        model_config=choices.model_config(
            hidden_size=body.hidden_size, num_layers=body.num_layers, cell=body.cell
        ),
        test_size=body.test_size,
        season_length=choices.season_length.value,
        epochs=body.epochs,
        learning_rate=body.learning_rate,
        batch_size=body.batch_size,
        seed=body.seed,
        promote=choices.promote,
        choices=choices,
    )
