"""``_call`` makes the first try without building the retry policy; a failure then goes through the
same policy as before: the same number of tries in all, the same warnings, the same final error."""

from __future__ import annotations

import asyncio
import logging

import pytest

from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.connectors.milvus.async_connector import AsyncMilvusConnector
from vecbridge.schemas import ConnectorError, StoreUnavailableError


class Flaky:
    """``fail`` transient errors, then ``"ok"``; counts the tries."""

    def __init__(self, fail: int, error: type[Exception] = ConnectionError) -> None:
        self.fail, self.error, self.tries = fail, error, 0

    def __call__(self, _client: object) -> str:
        self.tries += 1
        if self.tries <= self.fail:
            raise self.error(f"try {self.tries} failed")
        return "ok"


def _connector(attempts: int) -> MilvusConnector:
    connector = MilvusConnector("http://127.0.0.1:1", retry_attempts=attempts, retry_max_wait=30.0)
    connector._connect = lambda: object()  # type: ignore[method-assign]
    return connector


def test_a_first_try_that_succeeds_runs_once() -> None:
    flaky = Flaky(0)
    assert _connector(3)._call("count", "c", flaky) == "ok" and flaky.tries == 1


def test_a_transient_failure_is_retried_with_the_same_warning(caplog, monkeypatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)  # tenacity's waits
    flaky = Flaky(2)
    with caplog.at_level(logging.WARNING):
        assert _connector(3)._call("count", "c", flaky) == "ok"
    assert flaky.tries == 3
    warnings = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert [w.split(":")[1].split("(")[0].strip() for w in warnings] == ["attempt 1 failed", "attempt 2 failed"]


@pytest.mark.parametrize("attempts", [1, 2, 4])
def test_a_store_that_stays_down_is_tried_retry_attempts_times(monkeypatch, attempts: int) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    flaky = Flaky(100)
    with pytest.raises(StoreUnavailableError, match=f"failed {attempts} times"):
        _connector(attempts)._call("count", "c", flaky)
    assert flaky.tries == attempts


def test_a_non_transient_error_is_not_retried() -> None:
    flaky = Flaky(1, ValueError)
    with pytest.raises(ConnectorError):
        _connector(4)._call("count", "c", flaky)
    assert flaky.tries == 1


@pytest.mark.parametrize(("fail", "attempts", "tries"), [(0, 3, 1), (2, 3, 3), (100, 2, 2)])
def test_the_async_connector_counts_the_same(monkeypatch, fail: int, attempts: int, tries: int) -> None:
    async def no_wait(_s: float) -> None:
        return None

    connector = AsyncMilvusConnector("http://127.0.0.1:1", retry_attempts=attempts, retry_max_wait=30.0)

    async def connect() -> object:
        return object()

    connector._connect = connect  # type: ignore[method-assign]
    connector._client = object()  # a client exists: the failures are the store's, not the connection's
    monkeypatch.setattr("asyncio.sleep", no_wait)
    flaky = Flaky(fail)

    async def call(client: object) -> str:
        return flaky(client)

    if fail < attempts:
        assert asyncio.run(connector._call("count", "c", call)) == "ok"
    else:
        with pytest.raises(StoreUnavailableError, match=f"failed {attempts} times"):
            asyncio.run(connector._call("count", "c", call))
    assert flaky.tries == tries
