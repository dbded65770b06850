from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from app.forecasting import CheckpointError, Forecaster, load_checkpoint, save_checkpoint
from app.forecasting.checkpoint import MAGIC, checkpoint_bytes, parse_checkpoint


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
    import hashlib
    import json
    import struct

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
    import hashlib
    import json
    import struct

    def rebuild(header_changes: dict[str, object]) -> bytes:
        data = checkpoint_bytes(tiny_forecaster)
        (length,) = struct.unpack_from("<Q", data, len(MAGIC))
        start = len(MAGIC) + 8
        header = json.loads(data[start : start + length])
        header.update(header_changes)
        new_header = json.dumps(header).encode()
        body = MAGIC + struct.pack("<Q", len(new_header)) + new_header + data[start + length : -32]
        return body + hashlib.sha256(body).digest()

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
