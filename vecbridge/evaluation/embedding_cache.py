"""On-disk cache of document embeddings for evaluation: a corpus a model has encoded once is not
encoded again when another index (another set of retrievers, hence another collection) needs it.

Entries are keyed by the SHA-256 of the document text, in one folder per encoder identity (model,
class, lengths, pooling; for a model folder also the size and mtime of its files, so a re-trained
folder gets a fresh cache). Each encoded batch is written as its own shard, so an interrupted run
keeps what it finished.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vecbridge.schemas import Embeddings, SparseVector


def model_fingerprint(identity: dict[str, Any]) -> str:
    """Cache key of an encoder: its identity plus, for a model folder, the size and mtime of each file."""
    payload = dict(identity)
    path = Path(str(identity.get("model", "")))
    if path.is_dir():
        payload["files"] = sorted(
            (str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns) for p in path.rglob("*") if p.is_file()
        )
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Document embeddings of one encoder, text hash -> {output: row}; ``encode`` fills the gaps."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.rows: dict[str, dict[str, Any]] = {}
        self.hits = self.misses = 0
        for shard in sorted(self.folder.glob("shard-*.pkl")):
            with shard.open("rb") as handle:
                self.rows.update(pickle.load(handle))

    def encode(self, encoder: Any, texts: Sequence[str]) -> Embeddings:
        """The embeddings of ``texts``; only texts not cached yet go through ``encoder.encode_documents``."""
        keys = [text_key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.rows))
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            by_key = {k: t for k, t in zip(keys, texts, strict=True)}
            fresh = encoder.encode_documents([by_key[k] for k in missing])
            new = {k: self._row(fresh, i) for i, k in enumerate(missing)}
            self.folder.mkdir(parents=True, exist_ok=True)
            shard = self.folder / f"shard-{len(list(self.folder.glob('shard-*.pkl'))):06d}.pkl"
            tmp = shard.with_suffix(".tmp")
            with tmp.open("wb") as handle:
                pickle.dump(new, handle, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(shard)
            self.rows.update(new)
        rows = [self.rows[k] for k in keys]
        out: dict[str, Any] = {}
        if rows and "dense" in rows[0]:
            out["dense"] = np.stack([r["dense"] for r in rows]).astype(np.float32)
        if rows and "sparse" in rows[0]:
            out["sparse"] = [SparseVector(indices=r["sparse"][0], values=r["sparse"][1]) for r in rows]
        if rows and "colbert" in rows[0]:
            out["colbert"] = [r["colbert"] for r in rows]
        return Embeddings(**out)

    @staticmethod
    def _row(embeddings: Embeddings, i: int) -> dict[str, Any]:
        row: dict[str, Any] = {}
        if embeddings.dense is not None:
            row["dense"] = np.array(embeddings.dense[i], dtype=np.float32)
        if embeddings.sparse is not None:
            vector = embeddings.sparse[i]
            row["sparse"] = (np.array(vector.indices), np.array(vector.values))
        if embeddings.colbert is not None:
            row["colbert"] = np.array(embeddings.colbert[i], dtype=np.float32)
        return row
