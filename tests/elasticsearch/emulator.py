"""Test services. Elasticsearch in CI is the ``noida-db`` EMULATOR (ES-8.15-compatible API), not a
real Elasticsearch server; set ``VECBRIDGE_TEST_ES_URL`` to run the same tests against a real one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

from benchmarks.es_emulator import free_port, noida_binary, noida_elasticsearch, wait_healthy

__all__ = ["ES_URL_ENV", "external_es_auth", "external_es_url", "free_port", "noida_binary", "noida_elasticsearch",
           "shared_es_url", "wait_healthy"]

ES_URL_ENV = "VECBRIDGE_TEST_ES_URL"


def external_es_url() -> Optional[str]:
    return os.environ.get(ES_URL_ENV) or None


def external_es_auth() -> dict[str, str]:
    """Basic auth for the external server (VECBRIDGE_TEST_ES_USERNAME / _PASSWORD), if given."""
    user, password = os.environ.get("VECBRIDGE_TEST_ES_USERNAME"), os.environ.get("VECBRIDGE_TEST_ES_PASSWORD")
    return {"username": user, "password": password} if user and password else {}


_SHARED: dict[str, object] = {}


def shared_es_url() -> str:
    """One ES URL per test process, for registries without fixtures (the conformance suite):
    ``VECBRIDGE_TEST_ES_URL`` if set, else a noida-db EMULATOR started on first call and stopped
    (SIGINT) at interpreter exit."""
    url = external_es_url()
    if url:
        return url
    if "url" not in _SHARED:
        import atexit
        import tempfile

        workdir = Path(tempfile.mkdtemp(prefix="vecbridge-noida-"))
        manager = noida_elasticsearch(workdir)
        _SHARED["url"] = manager.__enter__()

        def stop() -> None:
            manager.__exit__(None, None, None)
            shutil.rmtree(workdir, ignore_errors=True)

        atexit.register(stop)
    return str(_SHARED["url"])
