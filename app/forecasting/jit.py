"""numba, set up for serving: the vector width that measured fastest per CPU, and an on-disk
cache wherever one is writable.

Vector width: on Intel's AVX-512 Xeons (this project's first machine, a Cascade Lake) 256- and
512-bit floating-point instructions lower the core's clock for a while after they run (the AVX
"licences"), so the Python code around a compiled call runs slower too. Measured in-process on
/predict-next (the default model, bench/predict_path.py): LLVM's default width cost the kernel's
own 55 µs plus 63 µs of slower interpreter around it; 128-bit vectors 72 + 16 µs; SSE2-only code
91 + 15 µs. So 128-bit vectors are the default. AMD's Zen cores have no such licences: on a Zen 4
EPYC the default width (512-bit) made the same request faster (126 vs 135 µs, kernel inside 31 vs
36 µs) and the pipelined forecast 1.7x faster (bench/forecast_kernel.py), so there LLVM chooses.
NUMBA_CPU_NAME / NUMBA_CPU_FEATURES, when set, override this.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import llvmlite.binding as llvm

if "NUMBA_CPU_NAME" not in os.environ and "NUMBA_CPU_FEATURES" not in os.environ:
    # Read by numba when it builds its code generator (at import, and again if they change).
    _host = llvm.get_host_cpu_name()
    _features = llvm.get_host_cpu_features().flatten()
    os.environ["NUMBA_CPU_NAME"] = _host
    # AMD's Zen cores (LLVM's "znver*") lose no clock to wide vectors: LLVM's width is kept.
    os.environ["NUMBA_CPU_FEATURES"] = (
        _features if _host.startswith("znver") else _features + ",+prefer-128-bit"
    )

from numba import njit  # after the target is chosen

# Every LLVM fast-math flag except no-NaN / no-Inf: a NaN or an overflow must propagate as in
# numpy, not be assumed away.
FASTMATH: Final = {"nsz", "arcp", "contract", "afn", "reassoc"}
# The same but "reassoc": sums are computed in the order written (multiply-adds still fuse).
FASTMATH_ORDERED: Final = FASTMATH - {"reassoc"}

Function = TypeVar("Function", bound=Callable[..., Any])


def compiled(function: Function) -> Function:
    """numba.njit with fast-math (see FASTMATH), cached on disk where numba finds a place."""
    return _jit(function, fastmath=FASTMATH)


def compiled_ordered(function: Function) -> Function:
    """numba.njit with fast-math but sums kept in the order written (see FASTMATH_ORDERED)."""
    return _jit(function, fastmath=FASTMATH_ORDERED)


def compiled_exact(function: Function) -> Function:
    """numba.njit without fast-math: arithmetic that must round exactly as numpy's does."""
    return _jit(function, fastmath=False)


def _jit(function: Function, *, fastmath: set[str] | bool) -> Function:
    try:
        jitted = njit(fastmath=fastmath, error_model="numpy", cache=True)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available" (read-only paths)
        jitted = njit(fastmath=fastmath, error_model="numpy", cache=False)(function)
    return cast(Function, jitted)
