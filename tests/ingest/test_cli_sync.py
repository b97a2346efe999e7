"""`vecbridge sync` on embedded Milvus Lite: a folder of files synced, edited, synced with
`--cleanup full`; exit codes, the summary line, the Ray engine refused, `vecbridge ingest FOLDER`."""

import pytest
from typer.testing import CliRunner

pytest.importorskip("milvus_lite")
pytest.importorskip("pypdf")

from vecbridge.cli import app  # noqa: E402
from vecbridge.config import open_index  # noqa: E402
from vecbridge.schemas import Settings  # noqa: E402

runner = CliRunner()


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key, value in {
        "URI": str(tmp_path / "sync.db"),
        "COLLECTION": "files",
        "STATE_DIR": str(tmp_path / "state"),
        "DENSE_MODEL": "none",
        "SPARSE_MODEL": "bm25",
        "BACKEND": "milvus",
    }.items():
        monkeypatch.setenv(f"VECBRIDGE_{key}", value)
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        (docs / f"note{i}.md").write_text(f"# Note {i}\n\nAbout topic{i} and *more*.\n", encoding="utf-8")
    return tmp_path


def _stored():
    index = open_index(Settings())
    try:
        return {d.id: d for d in index.iterate()}, index.spec.filterable
    finally:
        index.connector.close()


def test_sync_a_folder_then_follow_its_edits_and_removals(env):
    docs = env / "docs"
    first = runner.invoke(app, ["sync", "docs", "--no-progress"])
    assert first.exit_code == 0, first.output
    assert "read: 6  added: 6  updated: 0  unchanged: 0  deleted: 0  failed: 0  skipped: 0" in first.output
    stored, filterable = _stored()
    assert "vb_source" in filterable and stored["note1.md"].metadata["title"] == "Note 1"
    (docs / "note1.md").write_text("# Note 1\n\nRewritten.\n", encoding="utf-8")
    (docs / "note2.md").unlink()
    (docs / "extra.txt").write_text("A new file.", encoding="utf-8")
    second = runner.invoke(app, ["sync", "docs", "--cleanup", "full", "--no-progress"])
    assert second.exit_code == 0, second.output
    assert "read: 6  added: 1  updated: 1  unchanged: 4  deleted: 1" in second.output
    stored, _ = _stored()
    assert sorted(stored) == ["extra.txt", "note0.md", "note1.md", "note3.md", "note4.md", "note5.md"]
    assert stored["note1.md"].text == "Note 1\n\nRewritten."


def test_a_bad_file_exits_1_and_is_dead_lettered(env):
    (env / "docs" / "bad.txt").write_bytes(b"\x00\x01binary")
    result = runner.invoke(app, ["sync", "docs", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "failed: 1" in result.output and "dead letters: 1 rows in docs.files.dead-letter.jsonl" in result.output
    assert "bad.txt: binary content" in (env / "docs.files.dead-letter.jsonl").read_text()


def test_the_ray_engine_and_an_unknown_cleanup_are_refused(env):
    ray = runner.invoke(app, ["sync", "docs", "--engine", "ray"])
    assert ray.exit_code == 2 and "sync runs in process only" in ray.output
    bad = runner.invoke(app, ["sync", "docs", "--cleanup", "all"])
    assert bad.exit_code == 2 and "--cleanup all: choose one of ['none', 'full']" in bad.output


def test_ingest_reads_a_folder_too(env):
    result = runner.invoke(app, ["ingest", "docs", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "read: 6  written: 6  failed: 0" in result.output
    resume = runner.invoke(app, ["ingest", "docs", "--resume"])
    assert resume.exit_code == 2 and "a folder keeps no checkpoint" in resume.output


def test_ingest_refuses_a_folder_on_the_ray_engine(env):
    result = runner.invoke(app, ["ingest", "docs", "--engine", "ray"])
    assert result.exit_code == 2 and "not a folder" in result.output
