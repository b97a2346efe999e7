"""Milvus Lite in one process: one embedded server per file, shared by every connector open on it,
and milvus_lite imported without its import-time noise.

pymilvus starts the server of a ``*.db`` file with the first client and keeps one per file; a
connector's ``close`` must stop it (to release the file lock for another process) only when it is
the file's last user. ``opened`` counts a new client of a file, ``closed`` drops one and stops the
server at zero. Both hold one lock, so a client cannot start on a server being stopped.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
_lock = threading.Lock()
_users: dict[str, int] = {}


def import_milvus_lite() -> None:
    """Import ``milvus_lite`` (which pymilvus imports to open a Lite file) with setuptools'
    "pkg_resources is deprecated" warning dropped: milvus_lite 2.5.1 imports ``pkg_resources`` itself,
    so the warning is about its packaging, not the caller's code. Other warnings pass."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import milvus_lite  # noqa: F401


def _key(uri: str) -> str:
    return str(Path(uri).expanduser().absolute().resolve())  # milvus_lite's own key for the file


def opened(uri: str, connect: Callable[[], T]) -> T:
    """``connect()`` (which creates a client of the Lite file ``uri``), counted as one more user."""
    key = _key(uri)
    with _lock:
        client = connect()
        _users[key] = _users.get(key, 0) + 1
        return client


def closed(uri: str) -> None:
    """One user of ``uri`` fewer (its client already closed); the last one stops the embedded server."""
    key = _key(uri)
    with _lock:
        left = _users.get(key, 0) - 1
        if left > 0:
            _users[key] = left
            return
        _users.pop(key, None)
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(key)


def users(uri: str) -> int:
    """How many open connectors (sync or async clients) use the Lite file ``uri`` in this process."""
    with _lock:
        return _users.get(_key(uri), 0)
