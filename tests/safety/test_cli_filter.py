"""`vecbridge search --filter`: any text ends in hits or one clear error line (exit code 2), never a
traceback. The filter is parsed before the store or a model is opened, so these run without one."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

from vecbridge.cli import app
from vecbridge.schemas import FilterError, parse_filter
from vecbridge.schemas.filters import filter_json

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_store(monkeypatch, tmp_path):
    """Any run that got past the filter would try to open this missing, unreachable store."""
    monkeypatch.setenv("VECBRIDGE_BACKEND", "elasticsearch")
    monkeypatch.setenv("VECBRIDGE_ES_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("VECBRIDGE_RETRY_ATTEMPTS", "1")
    monkeypatch.chdir(tmp_path)


def _nested(levels: int) -> str:
    return '{"not": ' * levels + '{"key": "a", "op": "==", "value": 1}' + "}" * levels


@pytest.mark.parametrize(
    "text,says",
    [
        (_nested(1000), "--filter"),
        ("[" * 5000 + "]" * 5000, "--filter"),
        ("{not json", "--filter"),
        (_nested(200), "deeper than 32"),
    ],
)
def test_bad_filter_text_is_one_error_line_with_exit_code_2(text, says):
    result = runner.invoke(app, ["search", "x", "--filter", text])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert says in result.output and ("deeper than" in result.output or "not valid JSON" in result.output)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["key", "op", "value", "all", "any", "not", "x"]), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(text=st.text(max_size=40) | JSON.map(json.dumps) | st.integers(1, 4000).map(_nested))
def test_the_filter_parser_takes_any_text_without_a_traceback(text):
    """The CLI's filter parsing (JSON text, then the filter tree): a filter or a FilterError."""
    try:
        value = filter_json(text)
    except FilterError as exc:
        assert "\n" not in str(exc)
        return
    assert parse_filter(value) is not None
