"""Importing milvus_lite without its import-time noise."""

from __future__ import annotations

import warnings


def import_milvus_lite() -> None:
    """Import ``milvus_lite`` (which pymilvus imports to open a Lite file) with setuptools'
    "pkg_resources is deprecated" warning dropped: milvus_lite 2.5.1 imports ``pkg_resources`` itself,
    so the warning is about its packaging, not the caller's code. Other warnings pass."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import milvus_lite  # noqa: F401
