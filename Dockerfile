# syntax=docker/dockerfile:1
# A CPU-only image of the forecasting service.
#   builder: a venv with CPU torch and the app, trimmed, then the default model trained into it
#   runtime: the same base with only that venv and the model store; no compilers, pip caches,
#            tests, sources of the build or git history
# Both stages must use the same base: the venv's python is a symlink into the base's Python.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
# PyTorch's CPU wheel index, as an extra index: its `+cpu` build outranks PyPI's CUDA build of
# the same version. Replace it with a mirror (--build-arg TORCH_INDEX_URL=...); where it is not
# reachable pip falls back to PyPI and to any find-links / local wheel in its pip.conf.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
WORKDIR /build
RUN python -m venv /opt/venv

# Dependencies, read from pyproject.toml, in their own layer: it survives changes to the code.
COPY pyproject.toml README.md ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > requirements.txt \
 && pip install --no-cache-dir --extra-index-url "$TORCH_INDEX_URL" -r requirements.txt

COPY app ./app
# Then remove what serving never runs: the installer, C++ headers (for building extensions;
# there is no compiler here anyway), torch's test binaries and libraries, packages' test suites.
RUN pip install --no-cache-dir --no-deps . \
 && pip uninstall --yes pip \
 && site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && rm -rf "$site/torch/include" "$site/torch/test" "$site"/torch/bin/test_* "$site"/torch/bin/*Test \
           "$site"/torch/bin/protoc* "$site"/torch/lib/*test*.so \
 && find /opt/venv -depth -type d -name tests -exec rm -rf {} + \
 && python -I -c 'import app.main, torch; print("torch", torch.__version__)'

# Train the built-in model now, with the installed app's own code: a container is ready in
# seconds. (-I above and /seed here: the installed package is what gets imported, not /build.)
COPY deploy/docker/seed_default_model.py /seed/
RUN python /seed/seed_default_model.py /model_store
# Compile the inference kernel now too (numba; ~4 s otherwise at every start). numba reuses the
# cache when the CPU matches the build machine's and recompiles (in memory) when it does not.
ENV NUMBA_CACHE_DIR=/opt/numba-cache
RUN python -I -c 'from app.forecasting.kernel import warm_up; print("kernel compiled in", round(warm_up(), 1), "s")'

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 forecast \
 && useradd --system --uid 10001 --gid forecast --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin forecast
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder --chown=10001:10001 /model_store /model_store
# numba's kernel cache, compiled at build. numba reads it only from a directory it could write,
# so it belongs to the service user; with a read-only root filesystem numba compiles in memory
# at startup instead (~4 s) and the service reports ready afterwards, as always.
COPY --from=builder --chown=10001:10001 /opt/numba-cache /opt/numba-cache
# The store is the one place written on purpose (bytecode is compiled at install), so the root
# filesystem can be mounted read-only.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FORECAST_MODEL_STORE=/model_store \
    NUMBA_CACHE_DIR=/opt/numba-cache \
    UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN=130
USER 10001:10001
VOLUME ["/model_store"]
EXPOSE 8000
# Python's own urllib: the image has no curl. Healthy = ready = the default model serves.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
STOPSIGNAL SIGTERM
# One worker: the model store lives in the process, so scale out with replicas. On SIGTERM
# uvicorn stops accepting, lets in-flight requests (a training: at most
# FORECAST_MAX_TRAINING_SECONDS) finish for up to UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN seconds,
# then exits.
CMD ["uvicorn", "--factory", "app.main:create_app", "--host", "0.0.0.0", "--port", "8000", "--workers", "1"]
