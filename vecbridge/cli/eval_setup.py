"""What ``eval``, ``tune`` and ``data from-beir`` share: encoder configurations from the options, the
store they run on, and ``EvalServices`` (how encoders are loaded and stores opened)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer

from vecbridge.connectors import Connector
from vecbridge.evaluation.encoders import EncoderConfig, EncoderLoader
from vecbridge.schemas import Settings, VecbridgeError

CACHE_DIR = Path(".vecbridge") / "eval"

SCRIPTS_HELP = (
    "RETRIEVER=LANGS, e.g. splade=en or dense=en+zh or dense=all: what the retriever's encoder covers "
    "(language-aware fusion), when its model card has no language tags; repeatable."
)


def make_connector(backend: str, uri: Optional[str], cache_dir: Path) -> Connector:
    """The store to evaluate on: embedded Milvus Lite under the cache dir by default."""
    from vecbridge.config import open_connector

    if backend == "milvus" and uri is None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        uri = str(cache_dir / "milvus.db")
    return open_connector(Settings(backend=backend, **({"uri": uri} if uri else {})))


@dataclass(frozen=True)
class EvalServices:
    """How ``eval``, ``tune`` and ``data from-beir`` load encoders and open the store.

    The defaults load encoders with ``vecbridge.encoders.factory`` (BM25 fitted on the corpus) and
    open the store named by ``--backend``/``--uri``. An application embedding the CLI, or a test,
    passes its own as the typer context object: ``CliRunner().invoke(app, args, obj=EvalServices(...))``.
    """

    encoder_loader: Optional[EncoderLoader] = None
    """``(retriever, model, corpus, cache_dir) -> Encoder``; ``None``: the factory."""
    open_connector: Callable[[str, Optional[str], Path], Connector] = make_connector
    """``(backend, uri, cache_dir) -> Connector``, called once per run."""

    @classmethod
    def of(cls, ctx: typer.Context) -> EvalServices:
        """The services passed as ``ctx.obj``, or the defaults."""
        if ctx.obj is None:
            return cls()
        if not isinstance(ctx.obj, cls):
            raise TypeError(f"the CLI's context object must be an EvalServices, got {type(ctx.obj).__name__}")
        return ctx.obj

    def connector_factory(self, backend: str, uri: Optional[str], cache_dir: Path) -> Callable[[], Connector]:
        """A no-argument factory of the store, as the evaluation jobs take it."""
        return lambda: self.open_connector(backend, uri, cache_dir)


def encoder_configs(
    retrievers: str,
    dense_model: str,
    splade_model: str,
    compare_dense_model: Optional[str] = None,
    compare_splade_model: Optional[str] = None,
    labels: tuple[str, str] = ("base", "compare"),
    bm25_model: str = "bm25",
    text_analyzer: str = "english",
    scripts: Optional[list[str]] = None,
) -> list[EncoderConfig]:
    """Configuration A from the models; B (optional) swaps in the compare models. ``text`` is the
    store's own full-text BM25 with ``text_analyzer``.

    ``scripts``: ``RETRIEVER=CODES`` items (``splade=en``, ``dense=en+zh``, ``dense=all``) that set
    what a retriever covers for language-aware fusion when its model card says nothing (or is wrong).
    """
    names = [r.strip() for r in retrievers.split(",") if r.strip()]
    known = {"bm25": bm25_model, "dense": dense_model, "splade": splade_model, "text": text_analyzer}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise typer.BadParameter(f"--retrievers {retrievers!r}: choose among {sorted(known)}")
    coverage = parse_scripts_options(scripts or [], names)
    base = EncoderConfig(labels[0], {n: known[n] for n in names}, coverage)
    if compare_dense_model is None and compare_splade_model is None:
        return [base]
    other = dict(base.models)
    if compare_dense_model is not None:
        other["dense"] = compare_dense_model
    if compare_splade_model is not None:
        other["splade"] = compare_splade_model
    return [base, EncoderConfig(labels[1], other, coverage)]


def parse_scripts_options(items: list[str], names: list[str]) -> dict[str, tuple[str, ...]]:
    """``["splade=en", "dense=en+zh"]`` -> ``{"splade": ("en",), "dense": ("en", "zh")}`` (checked)."""
    from vecbridge.encoders.scripts import parse_scripts

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in names or not value.strip():
            raise typer.BadParameter(f"--scripts {item!r}: expected RETRIEVER=LANGS with RETRIEVER among {names}")
        codes = tuple(v.strip() for v in value.split("+") if v.strip())
        try:
            parse_scripts(codes)
        except VecbridgeError as exc:
            raise typer.BadParameter(f"--scripts {item!r}: {exc}") from None
        out[name.strip()] = codes
    return out
