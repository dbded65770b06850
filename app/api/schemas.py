"""Request and response bodies. Bounds live here, on the fields; routes do not validate."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.api.schemas_parts import (
    AutoInt,
    CalibrationOut,
    ChoicesOut,
    Difference,
    Freq,
    IntervalOut,
    Levels,
    PromoteField,
    PromotionOut,
    Start,
    TimeIndexOut,
    Timestamps,
)
from app.forecasting import CellType, HoldoutEvaluation
from app.serving.predictions import Prediction
from app.store import MODEL_NAME_PATTERN, ModelSnapshot

# JSON numbers only: strict mode refuses booleans and numeric strings, and NaN / Infinity
# (which Python's JSON parser accepts as literals) are refused as non-finite.
FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
# Series values are bounded so that no sum of squared errors (scores, training) can overflow
# float64: 1e100 is far beyond any measured quantity, and its squares stay finite.
MAX_ABS_VALUE = 1e100
SeriesValue = Annotated[FiniteFloat, Field(ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)]
StrictInt = Annotated[int, Field(strict=True)]
ModelName = Annotated[
    str,
    Field(
        pattern=MODEL_NAME_PATTERN,
        description="Lower-case letters, digits, '-' and '_', 1-64 characters, starting with a "
        "letter or digit.",
        examples=["default"],
    ),
]
HARD_MAX_SERIES = 1_000_000  # the schema's ceiling; FORECAST_MAX_SERIES_LENGTH is the real cap

SINE_EXAMPLE: list[JsonValue] = [round(math.sin(x * 2 * 3.1416 / 40), 4) for x in range(120)]
WINDOW_EXAMPLE: list[JsonValue] = SINE_EXAMPLE[:40]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TrainRequest(_Request):
    series: Annotated[
        list[SeriesValue],
        Field(
            min_length=2,
            max_length=HARD_MAX_SERIES,
            description="The series to learn, oldest first. Needs at least window_size + 1 + "
            "test_size values and at most FORECAST_MAX_SERIES_LENGTH.",
        ),
    ]
    model: ModelName = "default"
    window_size: Annotated[
        Annotated[StrictInt, Field(ge=1, le=1000)] | AutoInt,
        Field(
            description="Values the model reads per step, or auto: chosen from the series' "
            "autocorrelation (docs/quality.md; the built-in default model keeps 40).",
        ),
    ] = "auto"
    hidden_size: Annotated[StrictInt, Field(ge=1, le=512)] = 50
    num_layers: Annotated[StrictInt, Field(ge=1, le=4)] = 1
    cell: CellType = "lstm"
    difference: Difference = "auto"
    test_size: Annotated[
        StrictInt,
        Field(ge=0, le=HARD_MAX_SERIES, description="Points held out at the end and forecast."),
    ] = 40
    season_length: Annotated[
        Annotated[StrictInt, Field(ge=2, le=HARD_MAX_SERIES)] | AutoInt | None,
        Field(
            description="Season of the seasonal naive baseline; auto (or null): inferred from "
            "the autocorrelation of the training part.",
        ),
    ] = "auto"
    epochs: Annotated[
        StrictInt | None,
        Field(ge=1, description="Epoch cap (at most FORECAST_MAX_EPOCHS); default: planned."),
    ] = None
    learning_rate: Annotated[FiniteFloat | None, Field(gt=0, le=1)] = None
    batch_size: Annotated[StrictInt | None, Field(ge=1, le=4096)] = None
    seed: Annotated[StrictInt | None, Field(ge=0, le=2**32 - 1)] = None
    promote: PromoteField = None
    timestamps: Timestamps = None
    start: Start = None
    freq: Freq = None
    wait: Annotated[
        bool,
        Field(
            description="true: answer when the model is published (200). false: answer at once "
            "with a job (202, Location: /jobs/{id}) whose progress GET /jobs/{id} and "
            "GET /jobs/{id}/events report.",
        ),
    ] = True

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "model": "sine",
                    "series": SINE_EXAMPLE,
                    "window_size": 20,
                    "test_size": 20,
                    "epochs": 5,
                },
                {
                    "model": "sine",
                    "series": SINE_EXAMPLE,
                    "window_size": 20,
                    "test_size": 20,
                    "wait": False,
                },
            ]
        },
    )


class PredictNextRequest(_Request):
    window: Annotated[
        list[SeriesValue],
        Field(min_length=1, max_length=1000, description="Exactly the model's window_size values."),
    ]
    model: ModelName = "default"

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"window": WINDOW_EXAMPLE}]}
    )


class ForecastRequest(_Request):
    horizon: Annotated[
        StrictInt,
        Field(ge=1, le=HARD_MAX_SERIES, description="Steps ahead, at most FORECAST_MAX_HORIZON."),
    ]
    series: Annotated[
        list[SeriesValue] | None,
        Field(
            min_length=1,
            max_length=HARD_MAX_SERIES,
            description="History to continue (at least window_size values); default: the series "
            "the model was trained on.",
        ),
    ] = None
    model: ModelName = "default"
    level: Levels = None
    timestamps: Timestamps = None
    start: Start = None
    freq: Freq = None

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"horizon": 40},
                {"horizon": 40, "level": [80, 95]},
                {"horizon": 5, "series": WINDOW_EXAMPLE, "start": "2024-01-01", "freq": "D"},
            ]
        },
    )


class ModelConfigOut(BaseModel):
    window_size: int
    hidden_size: int
    num_layers: int
    cell: Literal["lstm", "gru", "rnn"]
    difference: bool = False


class TrainingOut(BaseModel):
    epochs: int = Field(description="Epochs run before model selection (plus refit_epochs).")
    best_epoch: int
    refit_epochs: int
    seconds: float
    final_loss: float = Field(description="Training MSE of the last epoch, in scaled units.")
    best_validation_loss: float | None
    stopped_by: str


class MetricsOut(BaseModel):
    test_size: int
    test_mse: float | None
    test_mae: float | None
    test_rmse: float | None
    test_smape: float | None = None
    naive_mse: float | None
    naive_mae: float | None = None
    seasonal_naive_mse: float | None
    seasonal_naive_mae: float | None = None
    season_length: int | None
    mase: float | None
    naive_mase: float | None = None
    seasonal_naive_mase: float | None = None

    @classmethod
    def of(cls, evaluation: HoldoutEvaluation | None) -> MetricsOut:
        """The holdout scores; without a holdout, test_size 0 and every score null."""
        if evaluation is None:
            return cls.model_validate(dict.fromkeys(cls.model_fields) | {"test_size": 0})
        return cls.model_validate({key: getattr(evaluation, key) for key in cls.model_fields})


class ModelOut(BaseModel):
    model: str
    version: int
    created_at: str
    config: ModelConfigOut
    training: TrainingOut
    metrics: MetricsOut
    series_length: int
    promotion: PromotionOut | None = None
    choices: ChoicesOut | None = None
    time_index: TimeIndexOut | None = None

    @classmethod
    def of(cls, snapshot: ModelSnapshot) -> ModelOut:
        forecaster, metadata = snapshot.forecaster, snapshot.metadata
        training = forecaster.training.to_dict()
        return cls(
            model=snapshot.name,
            version=snapshot.version,
            created_at=snapshot.created_at,
            config=ModelConfigOut(**forecaster.config.to_dict()),
            training=TrainingOut.model_validate(
                {key: training[key] for key in TrainingOut.model_fields}
            ),
            metrics=MetricsOut.of(forecaster.evaluation),
            series_length=len(forecaster.series),
            promotion=PromotionOut.of(metadata.promotion),
            choices=ChoicesOut.of(metadata.choices),
            time_index=TimeIndexOut.of(metadata.time_index),
        )


class ModelList(BaseModel):
    models: list[ModelOut]


class PredictNextResponse(BaseModel):
    model: str
    version: int
    prediction: float


class ForecastResponse(BaseModel):
    model: str
    version: int
    horizon: int
    forecast: list[float]
    intervals: list[IntervalOut] | None = Field(None, description="One per requested level.")
    calibration: CalibrationOut | None = None
    timestamps: list[str] | None = Field(
        None, description="When each forecast value falls (with timestamps or start + freq)."
    )

    @classmethod
    def of(cls, prediction: Prediction) -> ForecastResponse:
        intervals = prediction.intervals
        return cls(
            model=prediction.snapshot.name,
            version=prediction.snapshot.version,
            horizon=len(prediction.values),
            forecast=prediction.values.tolist(),
            intervals=None if intervals is None else [IntervalOut.of(i) for i in intervals],
            calibration=CalibrationOut.of(prediction.calibration),
            timestamps=prediction.timestamps,
        )


class ErrorResponse(BaseModel):
    """Every error has this shape: a stable code and a message saying expected vs received."""

    error: str = Field(examples=["invalid_input"])
    message: str = Field(examples=["window must hold exactly window_size=40 values; got 39"])
    details: list[dict[str, Any]] | None = None


class HealthResponse(BaseModel):
    status: Literal["ok"]
