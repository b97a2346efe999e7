"""Dense encoder for sentence-transformers checkpoints, run with plain ``transformers``.

The pipeline comes from the folder: ``modules.json`` lists Transformer -> Pooling [-> Normalize];
the Pooling folder's ``config.json`` says CLS or mean. Nothing is guessed: a folder without
that configuration needs an explicit ``pooling=``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from vecbridge.encoders import _hf
from vecbridge.encoders.base import OutputKind, check_texts, resolve_device
from vecbridge.encoders.coverage import Coverage, static_coverage
from vecbridge.encoders.loading import resolve_model_path
from vecbridge.encoders.scripts import Scripts
from vecbridge.schemas import ConfigurationError, Embeddings

POOLING_MODES = ("cls", "mean")
_KNOWN_MODULES = ("Transformer", "Pooling", "Normalize")


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _pooling_from_config(config_file: Path) -> str:
    if not config_file.is_file():
        raise ConfigurationError(f"pooling config {str(config_file)!r} is missing; pass pooling='cls' or 'mean'")
    config = _read_json(config_file)
    if isinstance(config.get("pooling_mode"), str):  # sentence-transformers >= 5 writes one "pooling_mode"
        mode = config["pooling_mode"]
        if mode not in POOLING_MODES:
            raise ConfigurationError(
                f"{config_file}: pooling_mode must be one of {POOLING_MODES}, got {mode!r}; pass pooling= to override"
            )
        return mode
    modes = [
        m for m, key in (("cls", "pooling_mode_cls_token"), ("mean", "pooling_mode_mean_tokens")) if config.get(key)
    ]
    others = [
        k
        for k, v in config.items()
        if k.startswith("pooling_mode_") and v and k not in ("pooling_mode_cls_token", "pooling_mode_mean_tokens")
    ]
    if len(modes) != 1 or others:
        raise ConfigurationError(
            f"{config_file}: pooling must be exactly one of {POOLING_MODES}, got {modes + others}; "
            "pass pooling= to override"
        )
    return modes[0]


def read_pipeline(folder: Path, pooling: Optional[str] = None) -> tuple[str, str, bool]:
    """``(transformer subfolder, pooling mode, normalize)`` from ``modules.json`` and the Pooling config.

    An explicit ``pooling`` is used as given (the folder then needs no modules.json / pooling config).
    """
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        if pooling is not None:
            return "", pooling, False
        raise ConfigurationError(
            f"model folder {str(folder)!r} has no modules.json, so its pooling is unknown; pass pooling='cls' or 'mean'"
        )
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    kinds = {m["type"].rsplit(".", 1)[-1]: m.get("path", "") for m in modules}
    unknown = sorted(set(kinds) - set(_KNOWN_MODULES))
    if unknown or ("Pooling" not in kinds and pooling is None):
        raise ConfigurationError(
            f"{modules_file}: supported modules are {_KNOWN_MODULES} with a Pooling module, got {list(kinds)}"
        )
    if pooling is None:
        pooling = _pooling_from_config(folder / kinds["Pooling"] / "config.json")
    return kinds.get("Transformer", ""), pooling, "Normalize" in kinds


class DenseEncoder:
    """Sentence embeddings: transformer -> CLS or mean pooling -> optional L2 normalization."""

    outputs = frozenset({OutputKind.DENSE})
    sparse_vocab_size: Optional[int] = None

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        *,
        pooling: Optional[str] = None,
        normalize: Optional[bool] = None,
        query_prefix: Optional[str] = None,
        document_prefix: Optional[str] = None,
        max_length: Optional[int] = None,
        batch_size: int = 32,
        device: str = "auto",
        progress: bool = False,
        name: Optional[str] = None,
        scripts: Optional[Sequence[str]] = None,
    ) -> None:
        if pooling is not None and pooling not in POOLING_MODES:
            raise ConfigurationError(f"pooling must be one of {POOLING_MODES}, got {pooling!r}")
        if batch_size <= 0:
            raise ConfigurationError(f"batch_size must be > 0, got {batch_size!r}")
        self.folder = resolve_model_path(model)
        subfolder, self.pooling, found_normalize = read_pipeline(self.folder, pooling)
        self.normalize = found_normalize if normalize is None else normalize
        st_config = _read_json(self.folder / "sentence_bert_config.json")
        prompts = _read_json(self.folder / "config_sentence_transformers.json").get("prompts") or {}
        self.query_prefix = prompts.get("query", "") if query_prefix is None else query_prefix
        self.document_prefix = prompts.get("document", "") if document_prefix is None else document_prefix
        self.lowercase = bool(st_config.get("do_lower_case", False))
        self.device = resolve_device(device)
        self.tokenizer, self.model = self._load_model(self.folder / subfolder)
        self.max_length = _hf.check_max_length(max_length, self.tokenizer, self.model, st_config.get("max_seq_length"))
        self.dense_dim: Optional[int] = int(self.model.config.hidden_size)
        self.batch_size, self.progress = batch_size, progress
        self.name = name or model
        # Languages it covers and why: configured, alias, model card, vocabulary (encoders/coverage.py);
        # ``load_encoder`` may narrow it with a load-time probe (encoders/probe.py).
        self.coverage: Coverage = static_coverage(model, self.folder, self.tokenizer, scripts)
        self.scripts: Scripts = self.coverage.scripts

    def _load_model(self, folder: Path) -> tuple[Any, Any]:
        """Tokenizer and model (anything with ``.config``); the ONNX subclass returns its session here."""
        from transformers import AutoModel

        tokenizer, model, _ = _hf.load_checkpoint(folder, AutoModel, self.device)
        return tokenizer, model

    def encode_documents(self, texts: Sequence[str]) -> Embeddings:
        return self._encode(texts, self.document_prefix, "dense documents")

    def encode_queries(self, texts: Sequence[str]) -> Embeddings:
        return self._encode(texts, self.query_prefix, "dense queries")

    def _prepare(self, text: str, prefix: str) -> str:
        text = prefix + text.strip()
        return text.lower() if self.lowercase else text

    def _encode(self, texts: Sequence[str], prefix: str, what: str) -> Embeddings:
        check_texts(texts)  # before the prefixes are added
        prepared = [self._prepare(t, prefix) for t in texts]
        return _hf.encode_tokenized(
            self.tokenizer,
            prepared,
            self.max_length,
            self.batch_size,
            self._encode_padded,
            self.progress,
            what,
            overlap=_hf.overlaps_batches(self.model),
        )

    def _encode_padded(self, batch: dict[str, Any]) -> Embeddings:
        """One batch of ``padded_batch`` arrays (int64 numpy) -> its dense vectors."""
        import torch

        batch = _hf.on_device(batch, self.device)
        with torch.inference_mode():
            tokens = self.model(**batch).last_hidden_state
            if self.pooling == "cls":
                pooled = tokens[:, 0]
            else:
                mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            if self.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return Embeddings(dense=pooled.float().cpu().numpy())
