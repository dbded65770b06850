"""bench.core's forecast section: latencies with numpy's default BLAS threads and with one."""

from __future__ import annotations

from app.forecasting import Forecaster
from bench import forecast_speed
from bench.forecast_speed import Latency
from bench.report import Report, fmt_ratio
from bench.settings import Settings, log


def measure_forecasts(settings: Settings, forecaster: Forecaster) -> dict[str, list[Latency]]:
    """The same latencies with numpy's default BLAS threads (in this process) and with one."""
    args = (forecaster, settings.horizons, settings.batch_count, settings.batch_horizons)
    default_threads = forecast_speed.measure(*args, log=log)
    log("forecast latencies again in a child process with one BLAS thread")
    return {
        "default": default_threads,
        "1": forecast_speed.measure_in_child(*args),
    }


def forecasting(
    report: Report, settings: Settings, latencies: dict[str, list[Latency]], peak: float
) -> None:
    report.section("Forecast latency (window 40, median of interleaved repeats)")
    rows = []
    for threads, results in latencies.items():
        for r in results:
            rows.append(
                [
                    f"`{r.label}`",
                    str(r.horizon),
                    str(r.series),
                    threads,
                    f"{r.flops / 1e6:.0f}",
                    f"{r.tutorial_seconds * 1e3:.2f}",
                    f"{r.ours_seconds * 1e3:.2f}",
                    f"**{fmt_ratio(r.ratio)}**",
                    f"{r.flops / r.tutorial_seconds / peak:.1%}",
                    f"{r.flops / r.ours_seconds / peak:.1%}",
                    f"{r.ours_cpu_seconds / r.ours_seconds:.2f}",
                    f"{r.max_abs_diff:.1e}",
                ]
            )
    report.table(
        [
            "call",
            "horizon",
            "series",
            "numpy BLAS threads",
            "MFLOP",
            "tutorial loop ms",
            "ours ms",
            "tutorial / ours",
            "tutorial % peak",
            "ours % peak",
            "ours CPU / wall",
            "max abs diff",
        ],
        rows,
    )
    repeats = ", ".join(f"H={h}: {n}" for h, n in settings.horizons.items())
    batch_repeats = ", ".join(f"H={h}: {n}" for h, n in settings.batch_horizons.items())
    report.line(
        "Tutorial: its per-step loop (`torch.FloatTensor` of the last 40 values, fresh zero "
        "state, `model(seq).item()` under `torch.no_grad()`, one torch thread) on our trained "
        "weights loaded into its module. Ours: `forecaster.forecast(horizon)`, and "
        f"`forecaster.forecast_many` for {settings.batch_count} different series vs "
        f"{settings.batch_count} tutorial loops. Repeats: {repeats}; batched {batch_repeats}. The "
        "model is the median-MSE seed's default forecaster. numpy BLAS threads `default`: this "
        "process, where OpenBLAS chooses (it uses both cores for the larger batched matmuls: see "
        "CPU / wall, process CPU time over wall time of our calls); `1`: the same measurement in "
        "a child process with OPENBLAS_NUM_THREADS=1 (same weights, through a checkpoint), where "
        "both methods use one core. Max abs diff: largest |ours - tutorial| over the forecast "
        f"(must be <= {forecast_speed.AGREEMENT:g})."
    )
