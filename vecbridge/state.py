"""What a collection was built with, kept in the store beside its data.

The state — model names, the collection spec (filterable keys and types) and the statistics of
fitted encoders (BM25: vocabulary, document frequencies, k1, b, analyzer) — is written at the first
ingest through ``Connector.write_state`` and read back by every later ``open_index``, from any
process and any working directory holding the same URI.

Older versions kept it in a local folder (``VECBRIDGE_STATE_DIR/<collection>/manifest.json`` and
``bm25/``). A collection that exists in the store without state but with such a folder is migrated:
the folder's content is uploaded once (a warning says so) and the folder is not read again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from vecbridge.connectors import Connector
from vecbridge.schemas import CollectionMismatchError, CollectionSpec, ConfigurationError, Settings

log = logging.getLogger(__name__)

FORMAT = 1


@dataclass
class CollectionState:
    """Models (``dense_model`` / ``sparse_model`` names), spec and fitted encoder statistics by encoder name."""

    models: dict[str, str]
    spec: CollectionSpec
    encoders: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "models": self.models,
            "spec": self.spec.model_dump(mode="json"),
            "encoders": self.encoders,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any], collection: str) -> CollectionState:
        if raw.get("format") != FORMAT:
            raise ConfigurationError(
                f"collection {collection!r}: stored state has format {raw.get('format')!r}, this version reads {FORMAT}"
            )
        try:
            return cls(dict(raw["models"]), CollectionSpec.model_validate(raw["spec"]), dict(raw.get("encoders") or {}))
        except (KeyError, TypeError, ValidationError) as exc:
            raise ConfigurationError(f"collection {collection!r}: stored state is not readable: {exc}") from None


def legacy_dir(settings: Settings, collection: str) -> Path:
    """Where older versions kept a collection's manifest and BM25 statistics."""
    return Path(settings.state_dir) / collection


def read_legacy(settings: Settings, collection: str) -> Optional[CollectionState]:
    """The state of the old local layout (``manifest.json`` + ``bm25/``), or None when there is none."""
    folder = legacy_dir(settings, collection)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        models = {k: manifest[k] for k in ("dense_model", "sparse_model")}
        spec = CollectionSpec.model_validate(manifest["spec"])
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ConfigurationError(f"{str(manifest_path)!r} is not a vecbridge manifest: {exc}") from None
    encoders = {}
    if (folder / "bm25").is_dir():
        from vecbridge.encoders.bm25 import BM25Encoder

        encoders["bm25"] = BM25Encoder.load(folder / "bm25").to_dict()
    return CollectionState(models, spec, encoders)


def load_state(connector: Connector, collection: str, settings: Settings) -> Optional[CollectionState]:
    """The state of ``collection`` from the store; None for a new (or empty, state-less) collection.

    Migrates the old local layout when the store holds the data but no state; refuses a non-empty
    collection that has neither (made outside vecbridge's ``open_index``).
    """
    raw = connector.read_state(collection)
    exists = connector.has_collection(collection)
    if raw is not None:
        if exists:
            return CollectionState.from_dict(raw, collection)
        log.warning(
            "collection %r does not exist but its vecbridge state does (dropped outside vecbridge?): "
            "treating it as a new collection",
            collection,
        )
        return None
    legacy = read_legacy(settings, collection)
    if not exists:
        if legacy is not None:
            log.warning(
                "ignoring %s: collection %r does not exist in this store", legacy_dir(settings, collection), collection
            )
        return None
    if legacy is not None:
        connector.write_state(collection, legacy.to_dict())
        log.warning(
            "migrated the state of collection %r (models, spec, BM25 statistics) from %s into the store; "
            "that folder is no longer read and may be deleted",
            collection,
            legacy_dir(settings, collection),
        )
        return legacy
    try:
        empty = connector.count(collection) == 0
    except CollectionMismatchError:  # an index Elasticsearch holds that vecbridge did not create
        empty = False
    if empty:
        log.info("collection %r is empty and has no vecbridge state: adopting it", collection)
        return None
    raise ConfigurationError(
        f"collection {collection!r} holds documents but no vecbridge state (models, BM25 statistics), so "
        f"vecbridge cannot know how it was encoded. If an older vecbridge built it, run once with "
        f"VECBRIDGE_STATE_DIR set to the folder that holds '{collection}/manifest.json' (default '.vecbridge' "
        f"in the directory it was built from) to migrate it; otherwise use another collection or drop it"
    )
