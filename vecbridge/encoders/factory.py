"""``load_encoder(name)``: one entry point that picks the adapter from a name or a model folder."""

from __future__ import annotations

import json
from typing import Any, Literal, Optional

from vecbridge.encoders.base import Encoder
from vecbridge.encoders.loading import has_bgem3_heads, resolve_model_path
from vecbridge.schemas import ConfigurationError


def _architectures(name: str) -> list[str]:
    config = resolve_model_path(name) / "config.json"
    if not config.is_file():
        return []
    return [str(a) for a in json.loads(config.read_text(encoding="utf-8")).get("architectures") or []]


BACKENDS = ("auto", "torch", "onnx")


def resolve_backend(backend: str, device: str = "auto") -> Literal["torch", "onnx"]:
    """``auto`` -> ``onnx`` when the encoder runs on CPU and onnxruntime + optimum are installed, else
    ``torch`` (onnxruntime here is the CPU path: measured faster in ``docs/benchmarks.md``)."""
    import importlib.util

    if backend not in BACKENDS:
        raise ConfigurationError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend != "auto":
        return "torch" if backend == "torch" else "onnx"
    if not all(importlib.util.find_spec(m) for m in ("onnxruntime", "onnx", "optimum")):
        return "torch"
    if device == "auto":
        from vecbridge.encoders.base import resolve_device

        device = resolve_device(device)
    return "onnx" if device == "cpu" else "torch"


QUANTIZE_SETTINGS = (None, "none", "auto", "int8")


def resolve_quantization(setting: Optional[str], bgem3: bool) -> Optional[str]:
    """The ``quantize`` an ONNX encoder gets: ``"auto"`` is int8 except for BGE-M3 (kept fp32, so its
    outputs stay FlagEmbedding's); ``"none"``/``None`` is fp32; ``"int8"`` is int8 for every model."""
    if setting not in QUANTIZE_SETTINGS:
        raise ConfigurationError(f"quantize={setting!r}: choose one of {[q for q in QUANTIZE_SETTINGS if q]}")
    if setting == "auto":
        return None if bgem3 else "int8"
    return None if setting == "none" else setting


def load_encoder(
    name: str,
    *,
    backend: Literal["auto", "torch", "onnx"] = "torch",
    max_length: Optional[int] = None,
    query_max_length: Optional[int] = None,
    **options: Any,
) -> Encoder:
    """Pick the adapter for ``name`` (folder, bundled alias or hub id) and build it.

    ``"bm25"`` (or ``"bm25:analyzer=...,k1=...,b=..."``) -> unfitted ``BM25Encoder``;
    a folder with BGE-M3 heads (``sparse_linear.pt`` +
    ``colbert_linear.pt``) -> BGE-M3 on ``backend`` (torch or onnx); ``"splade-tiny"`` or a
    ``*ForMaskedLM`` checkpoint -> ``SpladeEncoder``; anything else -> ``DenseEncoder``.
    ``max_length=None`` keeps each model's own default; other ``options`` go to the constructor.
    ``scripts=[...]`` sets the languages/scripts the model covers; without it coverage comes from
    the alias table, the model card, the vocabulary and, for scripts still open, a load-time probe
    (``probe=False`` skips it): ``encoder.coverage`` says which (``vecbridge.encoders.coverage``).
    ``backend="onnx"`` runs the same model on onnxruntime (``DenseOnnxEncoder`` / ``SpladeOnnxEncoder``;
    options ``quantize`` (``"int8"``, ``"auto"``: see ``resolve_quantization``), ``providers``,
    ``num_threads``, ``cache_dir``); ``backend="auto"``: see ``resolve_backend``.
    """
    from vecbridge.encoders.bm25 import bm25_options

    bm25 = bm25_options(name.lower() if name.lower() == "bm25" else name)
    if bm25 is not None:
        from vecbridge.encoders.bm25 import BM25Encoder

        return BM25Encoder(**{**options, **bm25})
    resolved = resolve_backend(backend, options.get("device", "auto"))
    bgem3 = has_bgem3_heads(resolve_model_path(name))
    if "quantize" in options:
        options["quantize"] = resolve_quantization(options["quantize"], bgem3)
        if options["quantize"] is None:
            del options["quantize"]
    if bgem3:
        from vecbridge.encoders.bgem3 import load_bgem3

        lengths = {k: v for k, v in (("passage_max_length", max_length), ("query_max_length", query_max_length)) if v}
        return load_bgem3(name, backend=resolved, **lengths, **options)
    if resolved == "torch":
        torch_only = sorted(k for k in ("quantize", "providers", "num_threads", "cache_dir") if k in options)
        if torch_only:
            raise ConfigurationError(f"options {torch_only} apply to backend='onnx' only, got backend='torch'")
    if max_length is not None:
        options["max_length"] = max_length
    probe = bool(options.pop("probe", True))
    return probed(_load_transformer(name, resolved, options), probe)


def _load_transformer(name: str, resolved: str, options: dict[str, Any]) -> Encoder:
    """A SPLADE (``*ForMaskedLM`` or ``splade-tiny``) or dense encoder on the resolved backend."""
    if name == "splade-tiny" or any(a.endswith("ForMaskedLM") for a in _architectures(name)):
        if resolved == "onnx":
            from vecbridge.encoders.splade_onnx import SpladeOnnxEncoder

            return SpladeOnnxEncoder(name, **options)
        from vecbridge.encoders.splade import SpladeEncoder

        return SpladeEncoder(name, **options)
    if resolved == "onnx":
        from vecbridge.encoders.dense_onnx import DenseOnnxEncoder

        return DenseOnnxEncoder(name, **options)
    from vecbridge.encoders.dense import DenseEncoder

    return DenseEncoder(name, **options)


def probed(encoder: Encoder, probe: bool = True) -> Encoder:
    """``encoder`` with its coverage narrowed by the load-time probes (``encoders/probe.py``) of the
    scripts its tokenizer left open; alias, card and configured coverage are kept as they are."""
    from vecbridge.encoders.coverage import Coverage, open_scripts, without
    from vecbridge.encoders.probe import PROBED_SCRIPTS, probe_failures

    coverage = getattr(encoder, "coverage", None)
    if not probe or not isinstance(coverage, Coverage):
        return encoder
    scripts = open_scripts(coverage, PROBED_SCRIPTS)
    if scripts:
        failed, note = probe_failures(encoder, scripts)
        narrowed = without(coverage, failed, note)
        if narrowed is coverage and note:
            narrowed = Coverage(coverage.scripts, coverage.source, f"{coverage.detail}; {note} (passed)")
        encoder.coverage = narrowed  # type: ignore[attr-defined]
        encoder.scripts = narrowed.scripts  # type: ignore[attr-defined]
    return encoder


def load_reranker(name: str, encoder: Optional[Encoder] = None, **options: Any) -> Any:
    """A ``Reranker``: ``"colbert"`` (or another BGE-M3 score mode such as ``"colbert+sparse+dense"``)
    re-scores with the given BGE-M3 ``encoder``; anything else is a cross-encoder checkpoint."""
    from vecbridge.encoders.bgem3_scoring import SCORE_MODES

    if name in SCORE_MODES:
        from vecbridge.encoders.bgem3 import BGEM3Base
        from vecbridge.encoders.bgem3_rescore import BGEM3Rescorer

        if not isinstance(encoder, BGEM3Base):
            raise ConfigurationError(
                f"reranker={name!r} re-scores with BGE-M3: the dense/sparse encoder must be BGE-M3"
            )
        return BGEM3Rescorer(encoder, mode=name)
    from vecbridge.encoders.reranker import CrossEncoderReranker

    return CrossEncoderReranker(name, **options)
