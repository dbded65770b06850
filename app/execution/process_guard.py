"""Child processes that end with their parent instead of living on as orphans.

uvicorn stops on SIGTERM by re-raising the signal once it has shut down, so `atexit` handlers
(which would stop a process pool) never run, and a killed server runs none at all. Pool workers
and the jobs' Manager would then live on, each holding torch's memory. A daemon thread in the
child polls its parent's pid and exits the child when the parent is gone.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

PARENT_POLL_SECONDS = 1.0


def exit_with_parent(poll_seconds: float = PARENT_POLL_SECONDS) -> None:
    """Call in a child process (a pool initializer): exit it once its parent has died."""
    # The pid multiprocessing recorded, not getppid(): the parent may already be gone.
    recorded = multiprocessing.parent_process()
    parent = recorded.pid if recorded is not None and recorded.pid else os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(0)  # reparented: the parent is gone

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
