"""Progress and cancellation across the process boundary, through a `multiprocessing` Manager.

Pool workers receive their arguments pickled, and only Manager proxies (not plain queues or
events) survive that. A thread per open channel reads the worker's progress dicts and hands
them to the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import queue
import threading
from collections.abc import AsyncIterator, Callable
from multiprocessing.managers import SyncManager
from typing import Any

from app.errors import ServiceError
from app.execution.hooks import WorkerHooks
from app.execution.process_guard import exit_with_parent

logger = logging.getLogger(__name__)


def set_quietly(flag: Any) -> None:
    """Set a Manager Event proxy; if the Manager is gone, the worker's next poll fails anyway."""
    try:
        flag.set()
    except Exception:
        logger.debug("could not set a cancel flag", exc_info=True)


def _start_manager() -> SyncManager:
    manager = SyncManager(ctx=multiprocessing.get_context("spawn"))
    manager.start(initializer=exit_with_parent)
    return manager


def _new_pair(manager: SyncManager) -> tuple[Any, Any]:
    return manager.Queue(), manager.Event()


class ProcessChannels:
    """Hands out Manager queue / event pairs; the Manager process starts on first use."""

    def __init__(self) -> None:
        self._manager: SyncManager | None = None
        self._lock = asyncio.Lock()

    async def _pair(self) -> tuple[Any, Any]:
        async with self._lock:
            for attempt in (1, 2):
                if self._manager is None:
                    self._manager = await asyncio.to_thread(_start_manager)
                try:
                    return await asyncio.to_thread(_new_pair, self._manager)
                except (OSError, EOFError) as error:
                    self._manager = None  # its process died (killed): start another, once
                    if attempt == 2:
                        raise ServiceError(f"could not reach the job manager: {error}") from error
        raise AssertionError("unreachable")

    @contextlib.asynccontextmanager
    async def open(
        self, on_item: Callable[[dict[str, Any]], None], cancel_flags: list[Any]
    ) -> AsyncIterator[WorkerHooks]:
        """Hooks for one worker call. `on_item` runs on the event loop for each progress dict;
        the cancel flag sits in `cancel_flags` while the channel is open."""
        progress, cancel = await self._pair()
        cancel_flags.append(cancel)
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def pump() -> None:
            while not stop.is_set():
                try:
                    item = progress.get(timeout=0.2)
                except queue.Empty:
                    continue
                if item is None:
                    return
                loop.call_soon_threadsafe(on_item, item)

        pumping = asyncio.ensure_future(asyncio.to_thread(pump))
        try:
            yield WorkerHooks(progress=progress, cancel=cancel)
        finally:
            cancel_flags.remove(cancel)
            try:
                # The worker has returned: its dicts are all queued before this end marker.
                await asyncio.to_thread(progress.put, None)
            except Exception:
                stop.set()
            try:
                await pumping
            except Exception:
                logger.warning("a progress channel broke", exc_info=True)

    async def shutdown(self) -> None:
        if self._manager is not None:
            manager, self._manager = self._manager, None
            await asyncio.to_thread(manager.shutdown)
