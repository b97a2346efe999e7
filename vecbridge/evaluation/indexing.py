"""Ingest a BEIR corpus once per (corpus, encoders, spec) and reuse the index when it still matches."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from vecbridge.connectors import Connector
from vecbridge.evaluation.beir import BeirDataset
from vecbridge.evaluation.encoders import TEXT, encode_seconds, identity, reset_timers
from vecbridge.index import DEFAULT_TEXT_ANALYZER, HybridIndex, Retriever, RetrieverKind
from vecbridge.schemas import CollectionSpec, ConfigurationError, DenseIndex, Metric


@dataclass
class BuildStats:
    """Ingestion cost: encode seconds per retriever, seconds writing to the store, and reuse."""

    collection: str
    fingerprint: str
    documents: int
    reused: bool
    encode_seconds: dict[str, float] = field(default_factory=dict)
    index_seconds: float = 0.0


def spec_for(name: str, retrievers: Sequence[Retriever], text_analyzer: Optional[str] = None) -> CollectionSpec:
    """Exact (FLAT, inner product) dense field if any retriever is dense; one sparse field per sparse
    retriever; the store's full-text index (``text_analyzer``, default ``standard``) if one is ``text``."""
    dense = [r for r in retrievers if r.kind is RetrieverKind.DENSE]
    if len(dense) > 1:
        raise ConfigurationError(f"one dense retriever per collection, got {[r.name for r in dense]}")
    return CollectionSpec(
        name=name,
        dense_dim=dense[0].encoder.dense_dim if dense and dense[0].encoder is not None else None,
        metric=Metric.IP,
        dense_index=DenseIndex.FLAT,
        sparse_fields=tuple(r.field for r in retrievers if r.kind is RetrieverKind.SPARSE),
        text_analyzer=(text_analyzer or DEFAULT_TEXT_ANALYZER)
        if any(r.kind is RetrieverKind.TEXT for r in retrievers)
        else None,
    )


def fingerprint(dataset: BeirDataset, retrievers: Sequence[Retriever], models: dict[str, str]) -> str:
    payload = {
        "corpus": dataset.fingerprint(),
        "retrievers": {
            r.name: {**identity(r.encoder, models.get(r.name, "")), "kind": r.kind.value, "field": r.field}
            for r in retrievers
        },
        "spec": spec_for("x", retrievers, models.get(TEXT)).model_dump(mode="json"),
        "version": 1,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def collection_name(dataset: BeirDataset, fp: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_]", "_", dataset.name)[:40] or "beir"
    return f"eval_{slug}_{fp[:12]}"


def ensure_index(
    connector: Connector,
    dataset: BeirDataset,
    retrievers: Sequence[Retriever],
    models: dict[str, str],
    cache_dir: Path,
    progress: bool = False,
    batch_size: int = 256,
) -> tuple[HybridIndex, BuildStats]:
    """The index for this corpus and these encoders, built or reused.

    It is reused when the manifest under ``cache_dir`` has the same fingerprint (corpus text,
    encoder identities, collection spec) and the store holds exactly the corpus' document count;
    otherwise the collection is dropped and rebuilt.
    """
    fp = fingerprint(dataset, retrievers, models)
    name = collection_name(dataset, fp)
    manifest = cache_dir / "manifests" / f"{name}.json"
    spec = spec_for(name, retrievers, models.get(TEXT))
    if manifest.is_file() and connector.has_collection(name):
        saved = json.loads(manifest.read_text())
        index = HybridIndex(connector, spec, retrievers, batch_size=batch_size)
        if saved.get("fingerprint") == fp and index.count() == len(dataset.corpus):
            stats = BuildStats(name, fp, len(dataset.corpus), True, saved["encode_seconds"], saved["index_seconds"])
            return index, stats
    if connector.has_collection(name):
        connector.drop_collection(name)
    index = HybridIndex(connector, spec, retrievers, batch_size=batch_size)
    reset_timers(retrievers)
    start = time.perf_counter()
    report = index.upsert(dataset.corpus.values(), progress=progress, total=len(dataset.corpus))
    total = time.perf_counter() - start
    if not report.ok:
        raise ConfigurationError(
            f"{len(report.failed)} documents failed to index, e.g. {list(report.failed.items())[:3]}"
        )
    encode = encode_seconds(retrievers)
    distinct = {id(r.encoder): encode[r.name] for r in retrievers}
    stats = BuildStats(name, fp, len(dataset.corpus), False, encode, max(total - sum(distinct.values()), 0.0))
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(
        json.dumps(
            {
                "fingerprint": fp,
                "documents": len(dataset.corpus),
                "models": models,
                "encode_seconds": encode,
                "index_seconds": stats.index_seconds,
            },
            indent=2,
        )
    )
    return index, stats
