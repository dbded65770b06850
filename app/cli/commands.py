"""The commands of the command line and what each calls; exit statuses below.

Exit status: 0 done; 1 the server refused or failed (its message is printed); 2 bad command
line or input file; 3 the server could not be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from app.cli.csv_input import InputError, read_csv_series
from app.cli.output import (
    ProgressBar,
    dump_json,
    model_summary,
    models_table,
    table,
    write_forecast,
)
from app.client import (
    DEFAULT_URL,
    APIError,
    ConnectionFailedError,
    ForecastClient,
    JobFailedError,
    WaitTimeoutError,
)

EXIT_API, EXIT_USAGE, EXIT_CONNECTION = 1, 2, 3


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _window(text: str) -> int | str:
    return text if text == "auto" else _positive(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forecast-service", description="Run and use the LSTM forecasting service."
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("FORECAST_URL", DEFAULT_URL),
        help="server URL (env FORECAST_URL; default %(default)s)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("FORECAST_API_KEY"),
        help="bearer key (env FORECAST_API_KEY)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(commands.add_parser("serve", help="run the server"))
    models = commands.add_parser("models", help="list the served models and their scores")
    models.add_argument("--format", choices=["table", "json"], default="table")
    _add_train(commands.add_parser("train", help="train a model on a column of a CSV file"))
    _add_forecast(commands.add_parser("forecast", help="forecast the steps after a model's series"))
    jobs = commands.add_parser("jobs", help="list recent background jobs")
    jobs.add_argument("--format", choices=["table", "json"], default="table")
    cancel = commands.add_parser("cancel", help="cancel a queued or running job")
    cancel.add_argument("job_id")
    return parser


def _add_serve(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--store", help="model store directory (env FORECAST_MODEL_STORE)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def _add_train(train: argparse.ArgumentParser) -> None:
    train.add_argument("file", help="CSV file ('-' for standard input)")
    train.add_argument("--model", required=True, help="model name")
    train.add_argument("--column", help="header name or 1-based position (default: last numeric)")
    train.add_argument("--time-column", help="column of ISO timestamps to send with the values")
    train.add_argument("--window", type=_window, help="window size, or auto")
    train.add_argument("--test-size", type=int, help="points held out and forecast")
    train.add_argument("--epochs", type=_positive)
    train.add_argument("--hidden-size", type=_positive)
    train.add_argument("--cell", choices=["lstm", "gru", "rnn"])
    train.add_argument("--seed", type=int)
    train.add_argument("--promote", choices=["if_better", "always"])
    train.add_argument("--no-wait", action="store_true", help="print the job and return")
    train.add_argument("--format", choices=["table", "json"], default="table")


def _add_forecast(forecast: argparse.ArgumentParser) -> None:
    forecast.add_argument("--model", default="default")
    forecast.add_argument("--horizon", type=_positive, required=True)
    forecast.add_argument(
        "--level", type=float, action="append", help="interval level in percent (repeatable)"
    )
    forecast.add_argument("--format", choices=["table", "json", "csv"], default="table")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    try:
        with ForecastClient(args.url, api_key=args.api_key, timeout=args.timeout) as client:
            return _run(client, args, out)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except APIError as error:
        print(f"error: {error.message} ({error.code}, HTTP {error.status})", file=sys.stderr)
        return EXIT_API
    except (JobFailedError, WaitTimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_API
    except ConnectionFailedError as error:
        print(f"error: cannot reach {args.url}: {error}", file=sys.stderr)
        return EXIT_CONNECTION


def _run(client: ForecastClient, args: argparse.Namespace, out: TextIO) -> int:
    if args.command == "models":
        models = client.models()
        if args.format == "json":
            dump_json([m.model_dump(mode="json") for m in models], out)
        else:
            out.write(models_table(models) + "\n")
    elif args.command == "train":
        return _train(client, args, out)
    elif args.command == "forecast":
        result = client.forecast(args.horizon, model=args.model, level=args.level)
        write_forecast(result, args.format, out)
    elif args.command == "jobs":
        jobs = client.jobs()
        if args.format == "json":
            dump_json([j.model_dump(mode="json") for j in jobs], out)
        else:
            rows = [[j.id, j.kind, j.subject, j.status, j.created_at] for j in jobs]
            out.write(table(["ID", "KIND", "SUBJECT", "STATUS", "CREATED"], rows) + "\n")
    elif args.command == "cancel":
        job = client.cancel_job(args.job_id)
        out.write(f"job {job.id}: {job.status}{' (stopping)' if job.cancel_requested else ''}\n")
    return 0


def _train(client: ForecastClient, args: argparse.Namespace, out: TextIO) -> int:
    data = read_csv_series(args.file, args.column, args.time_column)
    options = {
        "window_size": args.window,
        "test_size": args.test_size,
        "epochs": args.epochs,
        "hidden_size": args.hidden_size,
        "cell": args.cell,
        "seed": args.seed,
        "promote": args.promote,
        "timestamps": data.timestamps,
    }
    print(f"training {args.model} on {len(data.values)} values of {data.column}", file=sys.stderr)
    if args.no_wait:
        job = client.start_training(data.values, model=args.model, **options)
        out.write(f"job {job.id} {job.status}: follow it at {args.url}/jobs/{job.id}\n")
        return 0
    bar = ProgressBar(sys.stderr)
    try:
        model = client.train(data.values, model=args.model, progress=bar, **options)
    finally:
        bar.close()
    if args.format == "json":
        dump_json(model.model_dump(mode="json"), out)
    else:
        out.write(model_summary(model) + "\n")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app
    from app.settings import Settings

    overrides: dict[str, Any] = {"log_level": args.log_level}
    if args.store:
        overrides["model_store"] = args.store
    settings = Settings(**overrides)  # and FORECAST_* from the environment
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)
    return 0
