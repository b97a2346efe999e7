"""vecbridge.encoders.onnx_export's cache: reused while the weights hash matches; stale, half-written or
truncated exports are never used; read-only model folders fall back to the cache dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vecbridge.encoders import onnx_export, onnx_runtime
from vecbridge.encoders.onnx_export import MODEL_FILE, STAMP_FILE, cached_export, source_fingerprint
from vecbridge.schemas import ConfigurationError

pytest.importorskip("onnxruntime", reason="extra 'onnx'")


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"hidden_size": 4}')
    (folder / "model.safetensors").write_bytes(b"weights-v1" * 100)
    (folder / "tokenizer.json").write_text("{}")
    return folder


class Builder:
    """A stand-in exporter: writes bytes derived from the weights and counts its calls."""

    def __init__(self, folder: Path, fail_after_write: bool = False) -> None:
        self.folder, self.calls, self.fail_after_write = folder, 0, fail_after_write

    def __call__(self, out: Path) -> None:
        self.calls += 1
        out.write_bytes(b"graph:" + (self.folder / "model.safetensors").read_bytes())
        if self.fail_after_write:
            raise RuntimeError("killed mid-export")


def test_export_is_built_once_and_reused(model_dir: Path) -> None:
    build = Builder(model_dir)
    first = cached_export(model_dir, "dense-v1", build)
    again = cached_export(model_dir, "dense-v1", build)
    assert first == again and build.calls == 1
    assert first.parent.parent == model_dir / "onnx"  # beside the model when writable
    stamp = json.loads((first.parent / STAMP_FILE).read_text())
    assert stamp["source_sha256"] == source_fingerprint(model_dir)
    assert stamp["files"][MODEL_FILE] == {MODEL_FILE: first.stat().st_size}


def test_changed_weights_make_a_new_export(model_dir: Path) -> None:
    build = Builder(model_dir)
    old = cached_export(model_dir, "dense-v1", build)
    (model_dir / "model.safetensors").write_bytes(b"weights-v2" * 100)  # same size, new content
    new = cached_export(model_dir, "dense-v1", build)
    assert new != old and build.calls == 2
    assert new.read_bytes().endswith(b"weights-v2" * 100)
    # the tokenizer is not part of the graph: editing it keeps the export
    (model_dir / "tokenizer.json").write_text('{"changed": true}')
    assert cached_export(model_dir, "dense-v1", build) == new and build.calls == 2


def test_half_written_export_is_never_published(model_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="killed mid-export"):
        cached_export(model_dir, "dense-v1", Builder(model_dir, fail_after_write=True))
    root = model_dir / "onnx"
    assert [p.name for p in root.iterdir()] == []  # no final folder, temporary one removed
    build = Builder(model_dir)
    path = cached_export(model_dir, "dense-v1", build)
    assert build.calls == 1 and path.is_file()


def test_crash_leftovers_and_truncated_files_are_rebuilt(model_dir: Path) -> None:
    build = Builder(model_dir)
    path = cached_export(model_dir, "dense-v1", build)
    # a killed process leaves its temporary folder: ignored
    leftover = path.parent.with_name(f".{path.parent.name}.tmp-dead")
    leftover.mkdir()
    (leftover / MODEL_FILE).write_bytes(b"partial")
    path.write_bytes(path.read_bytes()[:10])  # truncated copy in the final folder
    assert cached_export(model_dir, "dense-v1", build) == path and build.calls == 2
    assert path.read_bytes().startswith(b"graph:weights-v1")
    (path.parent / STAMP_FILE).unlink()  # no stamp: not trusted either
    cached_export(model_dir, "dense-v1", build)
    assert build.calls == 3


def test_read_only_model_folder_uses_the_cache_dir(model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("VECBRIDGE_ONNX_CACHE", str(cache))
    real = onnx_export._writable
    monkeypatch.setattr(onnx_export, "_writable", lambda folder: not folder.is_relative_to(model_dir) and real(folder))
    path = cached_export(model_dir, "dense-v1", Builder(model_dir))
    assert path.is_relative_to(cache) and not (model_dir / "onnx").exists()
    monkeypatch.setattr(onnx_export, "_writable", lambda folder: False)
    with pytest.raises(ConfigurationError, match="VECBRIDGE_ONNX_CACHE"):
        cached_export(model_dir, "dense-v1", Builder(model_dir))


def test_bad_arguments_are_named(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="quantize must be one of"):
        cached_export(model_dir, "dense-v1", Builder(model_dir), quantize="int4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigurationError, match="has no weight file"):
        cached_export(tmp_path / "empty", "dense-v1", Builder(model_dir))
    with pytest.raises(ConfigurationError, match="providers=.*onnxruntime here offers"):
        onnx_runtime.resolve_providers(["NoSuchExecutionProvider"])
    assert onnx_runtime.resolve_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_a_rewrite_within_the_same_mtime_tick_is_still_seen(model_dir: Path) -> None:
    import os

    weights = model_dir / "model.safetensors"
    build = Builder(model_dir)
    first = cached_export(model_dir, "dense-v1", build)
    stat = weights.stat()
    weights.write_bytes(b"weights-v3" * 100)  # same size ...
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ... and the same mtime
    assert cached_export(model_dir, "dense-v1", build) != first and build.calls == 2
