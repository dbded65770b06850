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
from app.forecasting.auto import AutoChoice
from app.forecasting.checkpoint import MAGIC, Checkpoint, checkpoint_bytes, parse_checkpoint
from app.forecasting.metadata import Choices, Promotion, VersionMetadata
from app.forecasting.timestamps import from_start


def test_round_trip_gives_identical_forecasts(tmp_path: Path, tiny_forecaster: Forecaster) -> None:
    path = tmp_path / "model.ckpt"
    save_checkpoint(path, tiny_forecaster, VersionMetadata("tiny", 3))
    loaded, metadata = load_checkpoint(path)
    assert metadata == VersionMetadata("tiny", 3)
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
    save_checkpoint(path, tiny_forecaster, VersionMetadata("m", 1))

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, tiny_forecaster, VersionMetadata("m", 2))
    monkeypatch.undo()
    assert load_checkpoint(path)[1] == VersionMetadata("m", 1)
    assert list(tmp_path.iterdir()) == [path]


# Text that looks like the JSON around the metadata, where the splice must not be fooled.
_TEXT = st.text(max_size=12) | st.sampled_from(
    ['"metadata": {}}', ', "metadata": ', "}", "\\", "é\u2028"]
)
_CHOICE = st.builds(
    AutoChoice, st.none() | st.integers(1, 500), st.sampled_from(["given", "auto"]), _TEXT
)
_METADATA = st.builds(
    VersionMetadata,
    name=_TEXT,
    version=st.integers(1, 10**6),
    created_at=_TEXT,
    choices=st.none() | st.builds(Choices, _CHOICE, _CHOICE, st.none() | _CHOICE),
    time_index=st.none()
    | st.builds(
        from_start, st.integers(1, 500), st.just("2024-01-01"), st.sampled_from(["D", "MS"])
    ),
    promotion=st.none()
    | st.builds(
        Promotion,
        st.booleans(),
        st.sampled_from(["if_better", "always"]),
        _TEXT,
        st.none() | st.integers(1, 10**6),
    ),
)


@settings(max_examples=150, deadline=None)
@given(first=_METADATA, second=_METADATA)
def test_with_metadata_equals_serialising_again(
    tiny_forecaster: Forecaster, first: VersionMetadata, second: VersionMetadata
) -> None:
    """Replacing only the metadata's bytes gives exactly what checkpoint_bytes would write,
    and a reader gets the forecaster and the new metadata back."""
    original = Checkpoint.parse(checkpoint_bytes(tiny_forecaster, first))
    assert original.metadata == first
    replaced = original.with_metadata(second)
    assert replaced.data == checkpoint_bytes(tiny_forecaster, second)
    loaded, metadata = parse_checkpoint(replaced.data)
    assert metadata == second == replaced.metadata
    assert replaced.forecaster is original.forecaster
    np.testing.assert_array_equal(loaded.forecast(5), tiny_forecaster.forecast(5))


def test_with_metadata_of_a_header_written_in_another_order(tiny_forecaster: Forecaster) -> None:
    """A header whose last member is not the metadata is encoded again whole, not spliced."""
    data = checkpoint_bytes(tiny_forecaster, VersionMetadata("a", 1))
    metadata_first = _with_header(data, lambda h: {"metadata": h.pop("metadata"), **h})
    replaced = Checkpoint.parse(metadata_first).with_metadata(VersionMetadata("a", 2))
    assert parse_checkpoint(replaced.data)[1] == VersionMetadata("a", 2) == replaced.metadata


def test_metadata_written_before_the_typed_metadata_still_loads(
    tiny_forecaster: Forecaster,
) -> None:
    """Files written by earlier versions of the service: `time_index` null, `choices` without
    `difference`, keys this version does not know; and a forecaster saved without any."""
    written = {
        "name": "old",
        "version": 4,
        "created_at": "2026-11-28T16:49:11.855Z",
        "choices": {
            "window_size": {"value": 12, "source": "auto", "reason": "1 season(s) of 12"},
            "season_length": {"value": 12, "source": "given", "reason": "given in the request"},
        },
        "time_index": None,
        "promotion": {
            "promoted": False,
            "policy": "if_better",
            "reason": "holdout MAE 2 is worse than the naive baseline's 1",
            "served_version": 3,
        },
        "from_a_newer_replica": [1, 2],
    }
    data = _with_header(checkpoint_bytes(tiny_forecaster), lambda h: h | {"metadata": written})
    _, metadata = parse_checkpoint(data)
    assert metadata == VersionMetadata(
        "old",
        4,
        "2026-11-28T16:49:11.855Z",
        choices=Choices(
            AutoChoice(12, "auto", "1 season(s) of 12"),
            AutoChoice(12, "given", "given in the request"),
        ),
        promotion=Promotion(
            False, "if_better", "holdout MAE 2 is worse than the naive baseline's 1", 3
        ),
    )
    assert parse_checkpoint(checkpoint_bytes(tiny_forecaster))[1] is None


@pytest.mark.parametrize(
    "metadata",
    [{"version": 1}, {"name": "x", "version": "1"}, {"name": "x", "version": 1, "promotion": 3}],
)
def test_unreadable_metadata_is_refused(
    tiny_forecaster: Forecaster, metadata: dict[str, object]
) -> None:
    data = _with_header(checkpoint_bytes(tiny_forecaster), lambda h: h | {"metadata": metadata})
    with pytest.raises(CheckpointError, match="incompatible"):
        parse_checkpoint(data)
