"""``vecbridge search`` on Elasticsearch: a missing index is named with the server, and nothing is created."""

from typer.testing import CliRunner

from vecbridge.cli import app
from vecbridge.config import open_connector
from vecbridge.schemas import Settings
from vecbridge.testing.es_emulator import external_es_auth

runner = CliRunner()


def test_search_on_a_missing_index_names_it_and_creates_nothing(es_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in ("URI", "COLLECTION", "STATE_DIR", "DENSE_MODEL", "SPARSE_MODEL"):
        monkeypatch.delenv(f"VECBRIDGE_{key}", raising=False)
    monkeypatch.setenv("VECBRIDGE_BACKEND", "elasticsearch")
    monkeypatch.setenv("VECBRIDGE_ES_URL", es_url)
    for key, value in external_es_auth().items():
        monkeypatch.setenv(f"VECBRIDGE_ES_{key.upper()}", str(value))
    result = runner.invoke(app, ["search", "anything", "--collection", "cli-missing-index"])
    assert result.exit_code == 2, result.output
    assert "collection 'cli-missing-index' does not exist at ElasticsearchConnector(url=" in result.output
    connector = open_connector(Settings())
    try:
        assert not connector.has_collection("cli-missing-index")
    finally:
        connector.close()
    assert list(tmp_path.iterdir()) == []
