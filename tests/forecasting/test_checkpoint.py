from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from app.forecasting import CheckpointError, Forecaster, load_checkpoint, save_checkpoint
from app.forecasting.checkpoint import MAGIC, Checkpoint, checkpoint_bytes, parse_checkpoint


def test_round_trip_gives_identical_forecasts(tmp_path: Path, tiny_forecaster: Forecaster) -> None:
    path = tmp_path / "model.ckpt"
    save_checkpoint(path, tiny_forecaster, {"name": "tiny", "version": 3})
    loaded, metadata = load_checkpoint(path)
    assert metadata == {"name": "tiny", "version": 3}
    assert loaded.config == tiny_forecaster.config
    assert loaded.scaler == tiny_forecaster.scaler
    assert loaded.training == tiny_forecaster.training
    assert loaded.evaluation == tiny_forecaster.evaluation
    np.testing.assert_array_equal(loaded.series, tiny_forecaster.series)
    np.testing.assert_array_equal(loaded.forecast(30), tiny_forecaster.forecast(30))
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_truncated_file_is_refused(tmp_path: Path, tiny_forecaster: Forecaster) -> None:
    data = checkpoint_bytes(tiny_forecaster)
    for cut in (0, 5, 40, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}.ckpt"
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=f"cut{cut}.ckpt"):
            load_checkpoint(path)


def test_any_flipped_byte_is_refused(tiny_forecaster: Forecaster) -> None:
    data = checkpoint_bytes(tiny_forecaster)
    for position in range(0, len(data), max(1, len(data) // 50)):
        corrupted = bytearray(data)
        corrupted[position] ^= 0x01
        with pytest.raises(CheckpointError):
            parse_checkpoint(bytes(corrupted))


def _with_header(data: bytes, change: Callable[[dict[str, Any]], dict[str, Any]]) -> bytes:
    """`data` with its JSON header replaced by `change(header)`, checksum recomputed."""
    (length,) = struct.unpack_from("<Q", data, len(MAGIC))
    start = len(MAGIC) + 8
    header = json.dumps(change(json.loads(data[start : start + length]))).encode()
    body = MAGIC + struct.pack("<Q", len(header)) + header + data[start + length : -32]
    return body + hashlib.sha256(body).digest()


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned > /tmp/should-never-exist",))


def test_plain_pickle_file_is_refused_without_running_it(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(CheckpointError, match="not a forecaster checkpoint"):
        load_checkpoint(path)


def test_pickled_object_inside_a_valid_envelope_is_refused(
    tmp_path: Path, tiny_forecaster: Forecaster
) -> None:
    """Even with a correct magic and checksum, the tensor payload goes through weights_only."""
    header = json.dumps({"format_version": 1, "config": tiny_forecaster.config.to_dict()}).encode()
    buffer = io.BytesIO()
    torch.save({"series": torch.zeros(3), "evil": _Exploit()}, buffer)
    body = MAGIC + struct.pack("<Q", len(header)) + header + buffer.getvalue()
    marker = Path("/tmp/should-never-exist")
    marker.unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match="safe loader"):
        parse_checkpoint(body + hashlib.sha256(body).digest())
    assert not marker.exists()


def test_incompatible_version_and_mismatched_weights_are_refused(
    tiny_forecaster: Forecaster,
) -> None:
    def rebuild(header_changes: dict[str, object]) -> bytes:
        return _with_header(checkpoint_bytes(tiny_forecaster), lambda h: h | header_changes)

    with pytest.raises(CheckpointError, match="format_version 99 is not supported"):
        parse_checkpoint(rebuild({"format_version": 99}))
    config = tiny_forecaster.config.to_dict() | {"hidden_size": 7}
    with pytest.raises(CheckpointError, match="do not match the saved config"):
        parse_checkpoint(rebuild({"config": config}))
    with pytest.raises(CheckpointError, match="incompatible"):
        parse_checkpoint(rebuild({"scaler": {"center": 0.0, "scale": -1.0}}))


def test_atomic_write_keeps_the_old_file_when_writing_fails(
    tmp_path: Path, tiny_forecaster: Forecaster, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.ckpt"
    save_checkpoint(path, tiny_forecaster, {"version": 1})

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, tiny_forecaster, {"version": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)[1] == {"version": 1}
    assert list(tmp_path.iterdir()) == [path]


# Metadata as callers write it: nested objects, lists, and strings that look like JSON.
_JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(['"metadata": {}}', ', "metadata": ', "}", "\\", "é\u2028"])
)
_METADATA = st.dictionaries(
    st.text(max_size=8),
    st.recursive(
        _JSON_LEAVES,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    ),
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(first=_METADATA, second=_METADATA)
def test_with_metadata_equals_serialising_again(
    tiny_forecaster: Forecaster, first: dict[str, object], second: dict[str, object]
) -> None:
    """Replacing only the metadata's bytes gives exactly what checkpoint_bytes would write,
    and a reader gets the forecaster and the new metadata back."""
    original = Checkpoint.parse(checkpoint_bytes(tiny_forecaster, first))
    replaced = original.with_metadata(second)
    assert replaced.data == checkpoint_bytes(tiny_forecaster, second)
    loaded, metadata = parse_checkpoint(replaced.data)
    assert metadata == second == replaced.metadata
    assert replaced.forecaster is original.forecaster
    np.testing.assert_array_equal(loaded.forecast(5), tiny_forecaster.forecast(5))


def test_with_metadata_of_a_header_written_in_another_order(tiny_forecaster: Forecaster) -> None:
    """A header whose last member is not the metadata is encoded again whole, not spliced."""
    data = checkpoint_bytes(tiny_forecaster, {"name": "a", "version": 1})
    metadata_first = _with_header(data, lambda h: {"metadata": h.pop("metadata"), **h})
    replaced = Checkpoint.parse(metadata_first).with_metadata(
        {"name": "a", "version": 2, "tuple": (1, 2)}
    )
    assert parse_checkpoint(replaced.data)[1] == {"name": "a", "version": 2, "tuple": [1, 2]}
    assert replaced.metadata == {"name": "a", "version": 2, "tuple": [1, 2]}  # as read back
