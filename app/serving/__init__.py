"""The serving layer: what the routes call, between the HTTP API and the store and executor.

forecast_service.py  ForecastService: the one object the routes depend on, and its parts
predictions.py       the read path: next value, forecast with intervals, chart
publishing.py        training, the promotion gate, publishing; as a background job too
backtests.py         rolling-origin backtests; as a background job too
versions.py          kept versions: listing, rollback, delete
default_model.py     the built-in default model and the readiness it gives
choices.py           request -> spec: `auto` choices, the time index, the promotion policy
specs.py             what is trained and backtested, independent of the HTTP bodies
limits.py            every bound a request must keep, each with its one message
metrics.py           Prometheus metrics of one service
"""

from app.serving.forecast_service import ForecastService

__all__ = ["ForecastService"]
