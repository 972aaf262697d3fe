"""Preloaded by every worker process of ``--scheduler local:N`` (Dask's ``preload``).

:func:`dask_setup` runs in the worker process's main thread as the worker
starts: it ignores SIGINT, which a terminal's Ctrl-C sends to the whole
process group (the command decides when its workers end; each printed a
``KeyboardInterrupt`` traceback), and ends the worker with the command even
after a SIGKILL (:func:`~landmask._runtime.signals.die_with_parent`).
"""

from __future__ import annotations

import threading
from typing import Any

from landmask._runtime.signals import die_with_parent

__all__ = ["dask_setup"]


def dask_setup(worker: Any = None) -> None:
    """Dask's preload hook: see the module."""
    if threading.current_thread() is threading.main_thread():
        die_with_parent()
