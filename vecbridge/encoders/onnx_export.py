"""ONNX exports of model folders: made once, cached, stamped with a hash of the source weights.

Layout: ``<root>/<kind>-<hash16>/`` holds ``model.onnx`` (fp32), optionally ``model.int8-v2.onnx``, and
``stamp.json`` (full SHA-256 of the source weights + the byte size of every graph file). ``<root>`` is
``<model folder>/onnx`` when that folder is writable, else ``$VECBRIDGE_ONNX_CACHE`` (default
``~/.cache/vecbridge/onnx``) ``/<folder name>-<path hash>``, or the ``cache_dir`` given.

An export is built in a temporary sibling folder and published with one ``rename``: a crash midway
leaves a ``.tmp-*`` folder that is never read. Changed weights hash differently, so a stale export is
never picked; an export whose stamp is missing, names other weights, or whose files have other sizes
(truncated copy) is rebuilt.

The export itself is optimum's (``optimum.exporters.onnx.main_export``, extra ``onnx``) for
transformers checkpoints; BGE-M3 keeps its own graph (``vecbridge.encoders.bgem3_onnx``) and only uses the
cache, the optimizer pass and quantization from here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from vecbridge.encoders.export_noise import quiet_export
from vecbridge.schemas import ConfigurationError

logger = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
# The int8 file is named after its recipe (``quantize_int8``): a new recipe never reuses an old graph.
INT8_FILE = "model.int8-v2.onnx"
INT8_OP_TYPES = ("MatMul", "Attention")
STAMP_FILE = "stamp.json"
QUANTIZE_MODES = (None, "int8")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
SOURCE_NAMES = ("config.json",)  # besides weights: what changes the graph
_TWO_GB = 2**31 - 1
# ``onnxruntime.transformers.optimizer`` fusions (attention, LayerNorm, GELU) for these model types.
_OPTIMIZER_TYPES = {"bert": "bert", "roberta": "bert", "xlm-roberta": "bert", "camembert": "bert"}


# ---- source fingerprint ---------------------------------------------------------------------
def source_files(folder: Path) -> list[Path]:
    """Weight files and ``config.json`` under ``folder`` (sub-folders included, ``onnx``/hidden ones not)."""
    out = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).parts
        if any(p.startswith(".") or p == "onnx" for p in relative[:-1]) or not path.is_file():
            continue
        if path.suffix in WEIGHT_SUFFIXES or path.name in SOURCE_NAMES:
            out.append(path)
    return out


_HASH_MEMO: dict[tuple[str, int, int, int, int], str] = {}
_RACY_SECONDS = 2.0  # a file modified this recently may change again within the same mtime tick


def _file_sha256(path: Path) -> str:
    """SHA-256 of a file, memoized in-process by (path, inode, size, mtime, ctime) once the file is older
    than ``_RACY_SECONDS`` (git's "racily clean" rule: a rewrite in the same clock tick keeps mtime)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if key in _HASH_MEMO:
        return _HASH_MEMO[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if time.time() - max(stat.st_mtime, stat.st_ctime) > _RACY_SECONDS:
        _HASH_MEMO[key] = digest.hexdigest()
    return digest.hexdigest()


def source_fingerprint(folder: Path) -> str:
    """SHA-256 over the names and contents of ``source_files(folder)`` (memoized per size + mtime)."""
    files = source_files(folder)
    if not any(p.suffix in WEIGHT_SUFFIXES for p in files):
        raise ConfigurationError(f"model folder {str(folder)!r} has no weight file ({', '.join(WEIGHT_SUFFIXES)})")
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(folder).as_posix()}\0{_file_sha256(path)}\n".encode())
    return digest.hexdigest()


# ---- where exports live -----------------------------------------------------------------------
def default_cache_dir() -> Path:
    """``$VECBRIDGE_ONNX_CACHE``, else ``$XDG_CACHE_HOME/vecbridge/onnx`` (``~/.cache`` by default)."""
    env = os.environ.get("VECBRIDGE_ONNX_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vecbridge" / "onnx"


def _writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (created if missing); probed, since root ignores modes."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            return True
    except OSError:
        return False


def export_root(model_folder: Path, cache_dir: Optional[Path | str] = None) -> Path:
    """``cache_dir`` as given; else ``<model>/onnx`` if writable; else a per-folder slot in ``default_cache_dir()``."""
    if cache_dir is not None:
        root = Path(cache_dir).expanduser()
        if not _writable(root):
            raise ConfigurationError(f"cannot write ONNX exports into cache_dir={str(root)!r}; pass a writable folder")
        return root
    beside = model_folder / "onnx"
    if _writable(beside):
        return beside
    slot = hashlib.sha256(str(model_folder.resolve()).encode()).hexdigest()[:12]
    root = default_cache_dir() / f"{model_folder.name}-{slot}"
    if not _writable(root):
        raise ConfigurationError(
            f"model folder {str(model_folder)!r} is read-only and the ONNX cache {str(root)!r} is not writable; "
            "set VECBRIDGE_ONNX_CACHE or pass cache_dir= a writable folder"
        )
    logger.info("model folder %s is read-only: ONNX exports go to %s", model_folder, root)
    return root


# ---- stamps and publishing --------------------------------------------------------------------
def _graph_files(folder: Path, name: str) -> list[Path]:
    """A graph file and its external-data companions (``model.onnx``, ``model.onnx.data``, ...)."""
    return sorted(p for p in folder.iterdir() if p.name == name or p.name.startswith(name + "."))


def _read_stamp(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_stamp(folder: Path, stamp: dict[str, Any]) -> None:
    tmp = folder / f".{STAMP_FILE}.{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(stamp, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, folder / STAMP_FILE)


def is_valid_export(folder: Path, fingerprint: str, name: str = MODEL_FILE) -> bool:
    """The stamp names ``fingerprint`` and lists ``name`` with the sizes its files have on disk."""
    stamp = _read_stamp(folder)
    recorded = stamp.get("files", {}).get(name)
    if stamp.get("source_sha256") != fingerprint or not recorded:
        return False
    return {p.name: p.stat().st_size for p in _graph_files(folder, name)} == recorded


def _record(folder: Path, name: str, base: dict[str, Any]) -> None:
    stamp = {**base, **_read_stamp(folder)}
    stamp.setdefault("files", {})[name] = {p.name: p.stat().st_size for p in _graph_files(folder, name)}
    _write_stamp(folder, stamp)


def _publish(tmp: Path, final: Path, fingerprint: str) -> None:
    """Move a finished export into place; a broken folder already there is set aside first."""
    if final.exists():
        if is_valid_export(final, fingerprint):  # another process won the race
            return
        trash = final.with_name(f".{final.name}.stale-{uuid.uuid4().hex}")
        os.rename(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    try:
        os.rename(tmp, final)
    except OSError:
        if not is_valid_export(final, fingerprint):
            raise


def export_kind(base: str, optimize: bool) -> str:
    """The cache kind of an export: graphs without onnxruntime's fusions are cached apart."""
    return base if optimize else base + "-noopt"


def cached_export(
    model_folder: Path,
    kind: str,
    build: Callable[[Path], object],
    *,
    quantize: Optional[str] = None,
    cache_dir: Optional[Path | str] = None,
) -> Path:
    """The path of a valid ONNX graph for ``model_folder`` (``quantize="int8"``: the int8 copy).

    ``build(path)`` writes the fp32 graph to ``path``; it runs only when no valid export exists.
    """
    if quantize not in QUANTIZE_MODES:
        raise ConfigurationError(f"quantize must be one of {QUANTIZE_MODES}, got {quantize!r}")
    fingerprint = source_fingerprint(model_folder)
    root = export_root(model_folder, cache_dir)
    final = root / f"{kind}-{fingerprint[:16]}"
    base = {"source_sha256": fingerprint, "source": str(model_folder), "kind": kind}
    if not is_valid_export(final, fingerprint):
        logger.info("exporting %s (%s) to ONNX at %s", model_folder, kind, final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=root))
        try:
            build(tmp / MODEL_FILE)
            _record(tmp, MODEL_FILE, base)
            tmp.chmod(0o755)  # mkdtemp makes it private
            _publish(tmp, final, fingerprint)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if quantize is None:
        return final / MODEL_FILE
    if not is_valid_export(final, fingerprint, INT8_FILE):
        tmp = Path(tempfile.mkdtemp(prefix=".int8.tmp-", dir=final))
        try:
            quantize_int8(final / MODEL_FILE, tmp / INT8_FILE)
            for path in _graph_files(tmp, INT8_FILE):  # companions first, the graph file itself last
                if path.name != INT8_FILE:
                    os.replace(path, final / path.name)
            os.replace(tmp / INT8_FILE, final / INT8_FILE)
            _record(final, INT8_FILE, base)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final / INT8_FILE


# ---- building graphs --------------------------------------------------------------------------
def model_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in _graph_files(path.parent, path.name))


def remove_model(path: Path) -> None:
    for p in _graph_files(path.parent, path.name):
        p.unlink()


def optimize_graph(raw_path: Path, out_path: Path, config: Any) -> bool:
    """onnxruntime's transformer fusions (attention, LayerNorm, GELU) from ``raw_path`` into ``out_path``,
    SkipLayerNormalization unfused again (``unfuse_skip_layer_norm``: faster on CPU).

    Returns False (nothing written) for model types the optimizer does not know.
    """
    model_type = _OPTIMIZER_TYPES.get(getattr(config, "model_type", ""))
    if model_type is None:
        return False
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(
        str(raw_path),
        model_type=model_type,
        num_heads=config.num_attention_heads,
        hidden_size=config.hidden_size,
    )
    unfuse_skip_layer_norm(optimized.model)
    optimized.save_model_to_file(str(out_path), use_external_data_format=model_bytes(raw_path) > _TWO_GB)
    return True


def quantize_int8(fp32_path: Path, int8_path: Path) -> Path:
    """Dynamic int8 quantisation (``onnxruntime.quantization.quantize_dynamic``) of the ``MatMul`` weights
    and of the fused ``Attention`` nodes' Q/K/V projection (-> ``QAttention``; recipe v2, v1 left
    those ~25 % of a BERT layer's weights in fp32).

    Per-channel scales with a 7-bit range: on all-MiniLM-L6-v2 per-tensor scales drift to dense cosine
    0.96-0.97 vs fp32, per-channel + reduce_range to 0.99 (reduce_range avoids the u8 x s8
    saturation of CPUs without VNNI). Speed and nDCG: docs/benchmarks.md; the recipe's history: CHANGELOG.md.
    """
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet_export():
        quantize_dynamic(
            str(fp32_path),
            str(int8_path),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(INT8_OP_TYPES),
            per_channel=True,
            reduce_range=True,
            use_external_data_format=model_bytes(fp32_path) > _TWO_GB,
            extra_options={"DefaultTensorType": TensorProto.FLOAT},  # fused ops (com.microsoft) lack inferred types
        )
    return int8_path


def unfuse_skip_layer_norm(model):
    """Each com.microsoft ``SkipLayerNormalization`` (from ``optimize_graph``) as ``Add`` (+ ``Add`` bias) +
    ``LayerNormalization``: same values (fp32 within ~4e-6), and on this project's CPUs onnxruntime's
    fused kernel is 3-5x slower than the two plain ops (``benchmarks/experiments/bench_layernorm_kernels.py``).
    Sessions disable onnxruntime's ``SkipLayerNormFusion`` so it is not fused back (``open_session``)."""
    from onnx import helper

    nodes = []
    for node in model.graph.node:
        if node.op_type != "SkipLayerNormalization":
            nodes.append(node)
            continue
        epsilon = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-12)
        inputs = list(node.input) + [""] * (5 - len(node.input))  # input, skip, gamma, beta, bias
        outputs = list(node.output) + [""] * (4 - len(node.output))  # output, mean, inv_std, sum
        if outputs[1] or outputs[2]:
            raise ValueError(f"{node.name}: mean/inv_std outputs are used; not rewritten")
        total = outputs[3] or f"{node.name}_sum"
        first = f"{node.name}_skip" if inputs[4] else total
        nodes.append(helper.make_node("Add", inputs[:2], [first], name=f"{node.name}_add"))
        if inputs[4]:
            nodes.append(helper.make_node("Add", [first, inputs[4]], [total], name=f"{node.name}_add_bias"))
        norm_inputs = [total, inputs[2]] + ([inputs[3]] if inputs[3] else [])
        nodes.append(
            helper.make_node(
                "LayerNormalization", norm_inputs, [outputs[0]], name=f"{node.name}_ln", axis=-1, epsilon=epsilon
            )
        )
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def export_transformer(
    folder: Path,
    out_path: Path,
    task: str,
    *,
    opset: int = 18,
    optimize: bool = True,
    transform: Optional[Callable[[Any], Any]] = None,
) -> Path:
    """Export a transformers checkpoint with optimum (``task``: ``feature-extraction`` or ``fill-mask``).

    Then, if ``optimize``, onnxruntime's fusions (``optimize_graph``); then ``transform(onnx.ModelProto)``
    (e.g. a pooling head) before the graph is written to ``out_path``.
    """
    try:
        from optimum.exporters.onnx import main_export
    except ImportError as exc:
        raise ConfigurationError(
            "exporting to ONNX needs optimum: pip install 'vecbridge[onnx]' (optimum-onnx, onnxruntime)"
        ) from exc
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(folder))
    work = out_path.parent / f".export-{uuid.uuid4().hex}"
    try:
        with quiet_export():
            main_export(
                str(folder),
                work,
                task=task,
                opset=opset,
                do_validation=False,
                local_files_only=True,
                library_name="transformers",
                device="cpu",
            )
        raw = work / MODEL_FILE
        if optimize and optimize_graph(raw, work / "optimized.onnx", config):
            raw = work / "optimized.onnx"
        import onnx

        model = onnx.load(str(raw))  # re-saved (not moved) so external data is named after out_path
        if transform is not None:
            model = transform(model)
        onnx.save(model, str(out_path), save_as_external_data=model_bytes(raw) > _TWO_GB)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out_path
