"""A checkpoint format that is safe to load from an untrusted disk.

Layout of one file:

    MAGIC (8 bytes) | header length (8 bytes, little-endian) | header (UTF-8 JSON)
    | tensors (torch.save of a flat dict of tensors) | SHA-256 of everything before it (32 bytes)

The header carries the format version, model config, scaler, training metadata, holdout scores,
the conformal error table of the prediction intervals (optional: files written before it existed
load without intervals) and the version's metadata (name, version, ...: metadata.py; empty for a
forecaster saved on its own). Tensors are read with
`torch.load(weights_only=True)`, which refuses arbitrary pickled objects, and only after the
checksum has matched, so a truncated or bit-flipped file is refused before any of it is
interpreted. The model is rebuilt from the
saved config and its weights loaded with strict key and shape checking.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from app.forecasting.config import ModelConfig
from app.forecasting.errors import CheckpointError
from app.forecasting.evaluation import HoldoutEvaluation
from app.forecasting.forecaster import Forecaster
from app.forecasting.intervals import ConformalResiduals
from app.forecasting.metadata import VersionMetadata
from app.forecasting.model import RecurrentRegressor
from app.forecasting.scaling import Scaler
from app.forecasting.training import TrainingInfo

MAGIC = b"LSTMFC\x00\x01"
FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = frozenset({1})
TEMP_PREFIX = ".tmp-"
_LENGTH = struct.Struct("<Q")
_DIGEST_BYTES = 32
_SERIES_KEY = "series"
_METADATA_KEY = "metadata"


def checkpoint_bytes(forecaster: Forecaster, metadata: VersionMetadata | None = None) -> bytes:
    """Serialise a forecaster (and its version's metadata, if it has any) to bytes."""
    header = {
        "format_version": FORMAT_VERSION,
        "config": forecaster.config.to_dict(),
        "scaler": forecaster.scaler.to_dict(),
        "training": forecaster.training.to_dict(),
        "evaluation": forecaster.evaluation.to_dict() if forecaster.evaluation else None,
        "intervals": forecaster.intervals.to_dict() if forecaster.intervals else None,
        # Last, so that Checkpoint.with_metadata can replace it without re-encoding the rest.
        _METADATA_KEY: _metadata_dict(metadata),
    }
    tensors = {f"model.{name}": tensor for name, tensor in forecaster.state.items()}
    tensors[_SERIES_KEY] = torch.from_numpy(forecaster.series.copy())
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return _assemble(_encode(header), buffer.getvalue())


def _metadata_dict(metadata: VersionMetadata | None) -> dict[str, Any]:
    return metadata.to_dict() if metadata is not None else {}


def _encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False).encode("utf-8")


def _assemble(header: bytes, payload: bytes) -> bytes:
    body = MAGIC + _LENGTH.pack(len(header)) + header + payload
    return body + hashlib.sha256(body).digest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Checkpoint bytes together with what they hold, verified once.

    The serving process parses a new version once and then writes `data` and serves
    `forecaster` as they are: each parse holds the GIL for ~5 ms, which the event loop's
    requests wait for (the load bench's p99 while retraining; docs/reliability.md). Make one
    with `parse` or `with_metadata`, which keep the three fields consistent.
    """

    data: bytes
    forecaster: Forecaster
    metadata: VersionMetadata | None

    @classmethod
    def parse(cls, data: bytes) -> Checkpoint:
        """Verify and load `data`; CheckpointError on any problem."""
        forecaster, metadata = parse_checkpoint(data)
        return cls(data, forecaster, metadata)

    def with_metadata(self, metadata: VersionMetadata) -> Checkpoint:
        """The same model under new metadata.

        Only the metadata is encoded again (it is the header's last member); the rest of the
        header (~80 KB of conformal errors: ~3 ms to encode) and the tensors are kept as bytes.
        """
        fixed = len(MAGIC) + _LENGTH.size
        (header_length,) = _LENGTH.unpack_from(self.data, len(MAGIC))
        header = self.data[fixed : fixed + header_length]
        payload = self.data[fixed + header_length : -_DIGEST_BYTES]
        encoded = _encode(metadata.to_dict())
        old_tail = _metadata_member(_encode(_metadata_dict(self.metadata))) + b"}"
        if header.endswith(old_tail):
            header = header[: -len(old_tail)] + _metadata_member(encoded) + b"}"
        else:  # not written by checkpoint_bytes: encode the whole header again
            decoded = json.loads(header)
            decoded[_METADATA_KEY] = json.loads(encoded)
            header = _encode(decoded)
        return Checkpoint(_assemble(header, payload), self.forecaster, metadata)


def _metadata_member(encoded_metadata: bytes) -> bytes:
    """The header's last member as json.dumps writes it: `, "metadata": {...}`."""
    return b", " + _encode(_METADATA_KEY) + b": " + encoded_metadata


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix."""
    fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    # The rename itself must reach the disk, or a crash could lose the new name.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def save_checkpoint(
    path: Path, forecaster: Forecaster, metadata: VersionMetadata | None = None
) -> None:
    write_atomic(path, checkpoint_bytes(forecaster, metadata))


def load_checkpoint(path: Path) -> tuple[Forecaster, VersionMetadata | None]:
    """Load and verify a checkpoint; raises CheckpointError naming the file on any problem."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"{path}: cannot be read ({error.strerror or error})") from error
    try:
        return parse_checkpoint(data)
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from error


@dataclass(frozen=True, slots=True)
class CheckpointSummary:
    """What a checkpoint says about its model, read without loading the weights."""

    config: ModelConfig
    evaluation: HoldoutEvaluation | None
    metadata: VersionMetadata | None


def read_summary(data: bytes) -> CheckpointSummary:
    """The verified header's config, holdout scores and metadata; CheckpointError if unreadable."""
    header, _ = _verified_parts(data)
    try:
        return CheckpointSummary(
            ModelConfig.from_dict(header["config"]),
            _evaluation(header),
            _metadata(header),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"incompatible checkpoint contents: {error!r}") from error


def _evaluation(header: dict[str, Any]) -> HoldoutEvaluation | None:
    return HoldoutEvaluation.from_dict(header["evaluation"]) if header["evaluation"] else None


def _metadata(header: dict[str, Any]) -> VersionMetadata | None:
    """None for `{}`: a forecaster saved without a name and version."""
    metadata = header[_METADATA_KEY]
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be an object, got {type(metadata).__name__}")
    return VersionMetadata.from_dict(metadata) if metadata else None


def _verified_parts(data: bytes) -> tuple[dict[str, Any], bytes]:
    """(header, tensor payload) of a checkpoint whose magic, checksum and version check out."""
    fixed = len(MAGIC) + _LENGTH.size
    if len(data) < fixed + _DIGEST_BYTES or not data.startswith(MAGIC):
        raise CheckpointError(
            f"not a forecaster checkpoint: expected it to start with {MAGIC!r}, "
            f"got {data[: len(MAGIC)]!r} ({len(data)} bytes)"
        )
    body, digest = data[:-_DIGEST_BYTES], data[-_DIGEST_BYTES:]
    if hashlib.sha256(body).digest() != digest:
        raise CheckpointError("checksum mismatch: the file is truncated or corrupted")
    (header_length,) = _LENGTH.unpack_from(body, len(MAGIC))
    if header_length > len(body) - fixed:
        raise CheckpointError(f"header length {header_length} exceeds the file size")
    try:
        header = json.loads(body[fixed : fixed + header_length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"header is not valid JSON: {error}") from error
    version = header.get("format_version") if isinstance(header, dict) else None
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise CheckpointError(
            f"format_version {version!r} is not supported; expected one of "
            f"{sorted(SUPPORTED_FORMAT_VERSIONS)}"
        )
    assert isinstance(header, dict)  # a dict, or `version` would be None and refused above
    return header, body[fixed + header_length :]


def parse_checkpoint(data: bytes) -> tuple[Forecaster, VersionMetadata | None]:
    header, payload = _verified_parts(data)
    tensors = _load_tensors(payload)
    try:
        config = ModelConfig.from_dict(header["config"])
        scaler = Scaler.from_dict(header["scaler"])
        training = TrainingInfo.from_dict(header["training"])
        evaluation = _evaluation(header)
        # Optional: files written before intervals existed (same format_version) have none.
        intervals = (
            ConformalResiduals.from_dict(header["intervals"]) if header.get("intervals") else None
        )
        metadata = _metadata(header)
        state = _checked_state(config, tensors)
        series = tensors[_SERIES_KEY].to(torch.float64).numpy().copy()
        forecaster = Forecaster(
            config=config,
            scaler=scaler,
            state=state,
            series=series,
            training=training,
            evaluation=evaluation,
            intervals=intervals,
        )
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"incompatible checkpoint contents: {error!r}") from error
    return forecaster, metadata


def _load_tensors(payload: bytes) -> dict[str, torch.Tensor]:
    try:
        loaded = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for bad pickles; all mean "refused"
        raise CheckpointError(f"tensor payload refused by the safe loader: {error}") from error
    if not isinstance(loaded, dict) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in loaded.items()
    ):
        raise CheckpointError("tensor payload must be a flat mapping of names to tensors")
    if _SERIES_KEY not in loaded or loaded[_SERIES_KEY].ndim != 1:
        raise CheckpointError("tensor payload has no one-dimensional training series")
    return loaded


def _checked_state(
    config: ModelConfig, tensors: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Load the weights into a model built from `config` with strict key and shape checks."""
    state = {
        name.removeprefix("model."): tensor
        for name, tensor in tensors.items()
        if name.startswith("model.")
    }
    model = RecurrentRegressor(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"weights do not match the saved config {config}: {error}") from error
    for name, tensor in model.state_dict().items():
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"weight {name} holds non-finite values")
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
