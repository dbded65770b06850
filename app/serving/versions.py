"""The kept versions of a model: listed with their status, served again (rollback), deleted."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

from app.errors import ConflictError, ModelNotFoundError, VersionNotFoundError
from app.forecasting import CheckpointError
from app.forecasting.checkpoint import CheckpointSummary
from app.serving.default_model import DEFAULT_MODEL
from app.store import ModelSnapshot, ModelStore

logger = logging.getLogger(__name__)

# served now; candidate: kept, never served; retired: served before; unreadable: bad file
VersionStatus = Literal["served", "candidate", "retired", "unreadable"]


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    status: VersionStatus
    summary: CheckpointSummary | None  # what its verified checkpoint says; None if unreadable


@dataclass(frozen=True, slots=True)
class VersionListing:
    name: str
    served_version: int | None
    keep_versions: int  # how many versions the store keeps
    versions: list[VersionInfo]  # oldest first


@dataclass(frozen=True, slots=True)
class Rollback:
    snapshot: ModelSnapshot  # served now
    previous_version: int | None  # served before


class Versions:
    def __init__(self, store: ModelStore) -> None:
        self.store = store

    def listing(self, name: str) -> VersionListing:
        """Every kept version of `name`, oldest first, with its status."""
        summaries = self.store.version_summaries(name)
        if not summaries:
            raise ModelNotFoundError(name)
        served = self.store.served_version(name)
        versions = [VersionInfo(v, _status(v, served, s), s) for v, s in summaries]
        return VersionListing(name, served, self.store.keep_versions, versions)

    async def rollback(self, name: str, version: int | None) -> Rollback:
        """Serve `version` (default: the newest kept one older than the served one)."""
        with self.store.training_lock(name):  # no publish or prune can interleave
            return await asyncio.to_thread(self._rollback, name, version)

    async def delete(self, name: str) -> None:
        if name == DEFAULT_MODEL:
            raise ConflictError(
                "the built-in 'default' model cannot be deleted (clients rely on it); "
                "retrain it with POST /train instead"
            )
        await asyncio.to_thread(self.store.delete, name)

    def _rollback(self, name: str, version: int | None) -> Rollback:
        served = self.store.served_version(name)
        problems = []
        for target in self._targets(name, version, served):
            try:
                snapshot = self.store.load_version(name, target)
            except CheckpointError as error:
                logger.error("rollback of %s skips version %d: %s", name, target, error)
                problems.append(f"version {target}: {error}")
                continue
            self.store.serve(name, target, snapshot)
            logger.info(
                "rollback", extra={"model": name, "version": target, "previous_version": served}
            )
            return Rollback(snapshot, served)
        raise ConflictError(f"no version of {name!r} to roll back to loads: {'; '.join(problems)}")

    def _targets(self, name: str, version: int | None, served: int | None) -> list[int]:
        """The version asked for, or the kept ones older than the served one, newest first."""
        kept = self.store.versions(name)
        if not kept:
            raise ModelNotFoundError(name)
        if version is not None:
            if version not in kept:
                raise VersionNotFoundError(
                    f"model {name!r} has no version {version}; kept versions: {kept} "
                    "(the store keeps the last FORECAST_KEEP_VERSIONS)"
                )
            return [version]
        if served is None:
            raise ConflictError(
                f"model {name!r} serves no version to roll back from; name the version to "
                f"serve (kept: {kept})"
            )
        earlier = [v for v in reversed(kept) if v < served]
        if not earlier:
            raise ConflictError(
                f"model {name!r} keeps no version older than the served version {served} "
                f"(kept: {kept}); nothing to roll back to"
            )
        return earlier


def _status(version: int, served: int | None, summary: CheckpointSummary | None) -> VersionStatus:
    if summary is None:
        return "unreadable"
    if version == served:
        return "served"
    promotion = summary.metadata.promotion if summary.metadata is not None else None
    return "retired" if promotion is None or promotion.promoted else "candidate"
