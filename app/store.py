"""The guarded model store: immutable snapshots in memory, checkpoints on disk as the truth.

Layout of the store directory:

    <root>/<name>/v000001.ckpt     one checkpoint per version (the last `keep_versions` kept)
    <root>/<name>/CURRENT          the served version number, replaced atomically
    <root>/.locks/<name>.lock      held (flock) by whichever process trains <name>

Publishing writes the checkpoint, then CURRENT, then swaps the in-memory snapshot, so a crash at
any point leaves the previous version served. Several processes (replicas) may share one root:
each request compares CURRENT's identity (inode, mtime, size: one `stat`) with what it last
loaded and reloads when another process published, and training holds an exclusive file lock so
two processes never train one name at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.errors import ModelNotFoundError, StorageError, TrainingInProgressError
from app.forecasting import CheckpointError, Forecaster
from app.forecasting.checkpoint import (
    TEMP_PREFIX,
    Checkpoint,
    CheckpointSummary,
    read_summary,
    write_atomic,
)
from app.forecasting.metadata import VersionMetadata

logger = logging.getLogger(__name__)

MODEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_NAME = re.compile(MODEL_NAME_PATTERN)
_VERSION_FILE = re.compile(r"^v(\d{6,})\.ckpt$")
CURRENT = "CURRENT"
_REFRESH_ATTEMPTS = 3  # re-reads when the marker keeps moving while a request loads


@dataclass(frozen=True, slots=True)
class ModelSnapshot:
    """One published version of one model; never mutated, replaced as a whole."""

    forecaster: Forecaster
    metadata: VersionMetadata

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def version(self) -> int:
        return self.metadata.version

    @property
    def created_at(self) -> str:
        return self.metadata.created_at


@dataclass(frozen=True, slots=True)
class _Marker:
    inode: int
    mtime_ns: int
    size: int


def _snapshot(name: str, version: int, checkpoint: Checkpoint) -> ModelSnapshot:
    """The snapshot of a parsed checkpoint, which must say it is `name` version `version`."""
    metadata = checkpoint.metadata
    if metadata is None or (metadata.name, metadata.version) != (name, version):
        held = (None, None) if metadata is None else (metadata.name, metadata.version)
        raise CheckpointError(
            f"holds {held[0]!r} version {held[1]!r}, expected {name!r} version {version}"
        )
    return ModelSnapshot(checkpoint.forecaster, metadata)


@functools.lru_cache(maxsize=1024)
def _marker_path(root: str, name: str) -> str:
    """`root/name/CURRENT`, joined once: pathlib's joins cost more than the stat on every
    request (measured with py-spy on /predict-next)."""
    return os.path.join(root, name, CURRENT)


def checkpoint_name(version: int) -> str:
    return f"v{version:06d}.ckpt"


class ModelStore:
    def __init__(self, root: Path, *, keep_versions: int = 5) -> None:
        self.root = root
        self.keep_versions = keep_versions
        self._snapshots: dict[str, ModelSnapshot] = {}
        self._markers: dict[str, _Marker] = {}
        self._guard = threading.Lock()  # guards the dicts and sets here, never held during I/O
        self._training: set[str] = set()
        # Names whose CURRENT this process is rewriting: until the new snapshot is installed,
        # readers keep the old one instead of loading the new file themselves (a parse on the
        # event loop, found in the load bench's p99 while retraining).
        self._swapping: set[str] = set()

    # ----- reading -------------------------------------------------------------------------

    def get(self, name: str) -> ModelSnapshot:
        """The snapshot currently served for `name`, refreshed if another process published."""
        self._refresh(name)
        with self._guard:
            snapshot = self._snapshots.get(name)
        if snapshot is None:
            raise ModelNotFoundError(name)
        return snapshot

    def find(self, name: str) -> ModelSnapshot | None:
        try:
            return self.get(name)
        except ModelNotFoundError:
            return None

    def names(self) -> list[str]:
        """Names of every model in the store (this process's and other replicas')."""
        on_disk = {
            entry.name
            for entry in self._entries()
            if _NAME.match(entry.name) and (entry / CURRENT).exists()
        }
        with self._guard:
            on_disk |= set(self._snapshots)
        return sorted(name for name in on_disk if self.find(name) is not None)

    def snapshots(self) -> list[ModelSnapshot]:
        """The served snapshot of every model, by name."""
        return [s for name in self.names() if (s := self.find(name)) is not None]

    def versions(self, name: str) -> list[int]:
        directory = self.root / name
        try:
            files = os.listdir(directory)
        except FileNotFoundError:
            return []
        return sorted(int(m.group(1)) for f in files if (m := _VERSION_FILE.match(f)))

    def _entries(self) -> list[Path]:
        try:
            return [entry for entry in self.root.iterdir() if entry.is_dir()]
        except FileNotFoundError:
            return []

    def _marker(self, name: str) -> _Marker | None:
        try:
            stat = os.stat(_marker_path(str(self.root), name))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return _Marker(stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _refresh(self, name: str) -> None:
        """Bring the in-memory snapshot of `name` in line with the store's CURRENT marker."""
        if not _NAME.match(name):
            return
        for _ in range(_REFRESH_ATTEMPTS):
            with self._guard:
                if name in self._swapping:
                    return
                known = self._markers.get(name)
            marker = self._marker(name)  # after `known`: a publish in between is seen as new
            if marker == known:
                return
            snapshot = self._load_served(name) if marker is not None else None
            with self._guard:
                # Install only if nobody (a local publish, another request's refresh) changed
                # the state while we read: a slow reader must not replace newer news. The disk
                # decides, not the version number, so another replica's rollback is followed.
                if self._markers.get(name) != known:
                    continue
                if marker is None:  # deleted by another process
                    self._snapshots.pop(name, None)
                    self._markers.pop(name, None)
                    return
                if snapshot is not None:
                    self._snapshots[name] = snapshot
                self._markers[name] = marker
                return

    def served_version(self, name: str) -> int | None:
        """The version CURRENT names on disk; None when nothing is served."""
        try:
            return int((self.root / name / CURRENT).read_text().strip())
        except (OSError, ValueError):
            return None

    def _load_served(self, name: str) -> ModelSnapshot | None:
        """Load the version CURRENT names, falling back to the newest older one that loads."""
        served = self.served_version(name)
        candidates = [v for v in reversed(self.versions(name)) if served is None or v <= served]
        for version in candidates:
            path = self.root / name / checkpoint_name(version)
            try:
                return self._load_file(name, version, path)
            except CheckpointError as error:
                logger.error("skipping unloadable checkpoint %s: %s", path, error)
        if candidates or served is not None:
            logger.error("model %r has no loadable checkpoint in %s", name, self.root / name)
        return None

    @staticmethod
    def _load_file(name: str, version: int, path: Path) -> ModelSnapshot:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CheckpointError(f"{path}: cannot be read ({error})") from error
        try:
            return _snapshot(name, version, Checkpoint.parse(data))
        except CheckpointError as error:
            raise CheckpointError(f"{path}: {error}") from error

    # ----- startup ---------------------------------------------------------------------------

    def load_all(self) -> list[str]:
        """Load every model in the store; unloadable files are logged and skipped."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / ".locks").mkdir(exist_ok=True)
        for entry in self._entries():
            if entry.name.startswith("."):
                continue
            if not _NAME.match(entry.name):
                logger.warning("ignoring %s: not a valid model name", entry)
                continue
            self._clean_temp_files(entry.name)
            self._refresh(entry.name)
        loaded = sorted(self._snapshots)
        logger.info("model store %s: loaded %s", self.root, loaded or "no models")
        return loaded

    def _clean_temp_files(self, name: str) -> None:
        """Remove temp files a crashed writer left, unless a writer of `name` is active now."""
        try:
            with self.training_lock(name):
                for path in (self.root / name).glob(f"{TEMP_PREFIX}*"):
                    logger.warning("removing stale temp file %s", path)
                    path.unlink(missing_ok=True)
        except TrainingInProgressError:
            pass

    # ----- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def training_lock(self, name: str) -> Iterator[None]:
        """Exclusive right to train (and publish) `name`, across threads and processes."""
        with self._guard:
            if name in self._training:
                raise TrainingInProgressError(name)
            self._training.add(name)
        try:
            lock_dir = self.root / ".locks"
            lock_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise TrainingInProgressError(name) from None
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        finally:
            with self._guard:
                self._training.discard(name)

    def is_training(self, name: str) -> bool:
        with self._guard:
            return name in self._training

    def next_version(self, name: str) -> int:
        """1 for a new name, else one past the newest version on disk (call under the lock)."""
        versions = self.versions(name)
        return (versions[-1] + 1) if versions else 1

    def save_version(self, name: str, version: int, checkpoint: bytes) -> Path:
        """Persist a checkpoint without serving it (a candidate). Raises StorageError."""
        directory = self.root / name
        path = directory / checkpoint_name(version)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            write_atomic(path, checkpoint)
        except OSError as error:
            raise StorageError(
                f"could not write checkpoint {path}: {error.strerror or error}; "
                "the previous version is still served"
            ) from error
        return path

    def publish(self, name: str, version: int, checkpoint: Checkpoint) -> ModelSnapshot:
        """Write version `version` of `name` atomically, mark it served, swap it in."""
        snapshot = self._save_verified(name, version, checkpoint)
        self.serve(name, version, snapshot)
        self._prune(name)
        return snapshot

    def save_candidate(self, name: str, version: int, checkpoint: Checkpoint) -> ModelSnapshot:
        """Write a version that is kept but not served (it lost the promotion gate)."""
        snapshot = self._save_verified(name, version, checkpoint)
        self._prune(name)
        return snapshot

    def _save_verified(self, name: str, version: int, checkpoint: Checkpoint) -> ModelSnapshot:
        """Write a parsed checkpoint and prove the file holds exactly the bytes that parsed.

        Reading the file back and comparing is as strong as parsing it again (parsing is
        deterministic) at a fraction of the cost; see `Checkpoint`.
        """
        snapshot = _snapshot(name, version, checkpoint)
        path = self.save_version(name, version, checkpoint.data)
        try:
            intact = path.read_bytes() == checkpoint.data
        except OSError:
            intact = False
        if not intact:
            path.unlink(missing_ok=True)
            raise StorageError(
                f"checkpoint {path} did not read back as written; the previous version is "
                "still served"
            )
        return snapshot

    def load_version(self, name: str, version: int) -> ModelSnapshot:
        """Any kept version, served or not; CheckpointError if it is missing or unloadable."""
        return self._load_file(name, version, self.root / name / checkpoint_name(version))

    def version_summaries(self, name: str) -> list[tuple[int, CheckpointSummary | None]]:
        """(version, what its verified checkpoint says, or None if unreadable) per kept version,
        oldest first; the weights are not loaded."""
        summaries: list[tuple[int, CheckpointSummary | None]] = []
        for version in self.versions(name):
            path = self.root / name / checkpoint_name(version)
            try:
                summaries.append((version, read_summary(path.read_bytes())))
            except (OSError, CheckpointError) as error:
                logger.error("unreadable checkpoint %s: %s", path, error)
                summaries.append((version, None))
        return summaries

    def serve(
        self, name: str, version: int, snapshot: ModelSnapshot | None = None
    ) -> ModelSnapshot:
        """Point CURRENT at an existing version and swap it in (publish and rollback)."""
        if snapshot is None:
            snapshot = self._load_file(name, version, self.root / name / checkpoint_name(version))
        with self._guard:
            self._swapping.add(name)
        try:
            try:
                write_atomic(self.root / name / CURRENT, f"{version}\n".encode())
            except OSError as error:
                raise StorageError(
                    f"could not update {self.root / name / CURRENT}: {error.strerror or error}; "
                    "the previous version is still served"
                ) from error
            marker = self._marker(name)
            with self._guard:
                self._snapshots[name] = snapshot
                if marker is not None:
                    self._markers[name] = marker
        finally:
            with self._guard:
                self._swapping.discard(name)
        return snapshot

    def _prune(self, name: str) -> None:
        versions = self.versions(name)
        served = self.served_version(name)
        for version in versions[: -self.keep_versions]:
            if version != served:
                (self.root / name / checkpoint_name(version)).unlink(missing_ok=True)

    def delete(self, name: str) -> None:
        """Remove `name` from memory and disk (refused while it trains)."""
        with self.training_lock(name):
            if self.find(name) is None and not self.versions(name):  # candidates only: deletable
                raise ModelNotFoundError(name)
            with self._guard:
                self._snapshots.pop(name, None)
                self._markers.pop(name, None)
            directory = self.root / name
            # Remove the marker first: other replicas then see the model as gone at once.
            (directory / CURRENT).unlink(missing_ok=True)
            shutil.rmtree(directory, ignore_errors=True)
