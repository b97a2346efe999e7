"""``ingest_ray``: the driver of a Ray Data ingestion (read ranges -> encode+write actors -> report)."""

from __future__ import annotations

import gc
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from vecbridge.ingest.report import DeadLetters, IngestError, IngestInterrupted, IngestReport
from vecbridge.ingest.sources import FileSource
from vecbridge.schemas import ConfigurationError, Settings, VecbridgeError

log = logging.getLogger(__name__)

RANGES_PER_WORKER = 4
"""A file is cut into at least this many read ranges per worker (blocks are what Ray hands to one
actor; a single block would keep every other actor idle)."""

LITE_FILE_MESSAGE = (
    "the ray engine needs a store that several processes can write: VECBRIDGE_URI={uri!r} is a Milvus Lite "
    "file, which one process locks. Serve it with Milvus Lite's server, e.g. python -c \"from milvus_lite.server "
    "import Server; s = Server('{path}', address='127.0.0.1:19530'); s.init(); s.start(); s._p.wait()\", and set "
    "VECBRIDGE_URI=http://127.0.0.1:19530 (every Ray node must reach that address), or use a Milvus server"
)


@dataclass(frozen=True)
class RayOptions:
    """How to run on Ray.

    - ``address``: None starts a local Ray (or reuses the one this process already started with
      ``ray.init``); ``"auto"`` or ``"ray://head:10001"`` joins a cluster (the only change needed).
    - ``workers``: encoder actors (one model load each); ``num_gpus`` / ``num_cpus`` per actor
      (``num_cpus`` default: ``min(1, cluster CPUs / (workers + 1))``, leaving room for read tasks:
      actors holding every CPU would starve the readers and stall the run).
    - ``batch_size``: documents per encode-and-write batch (default ``VECBRIDGE_INGEST_BATCH_SIZE``).
    - ``max_restarts``: how often Ray restarts a dead actor and retries its batch.
    - ``local_cpus``: ``num_cpus`` of a local Ray started here (None: all cores)."""

    address: Optional[str] = None
    workers: int = 2
    num_gpus: float = 0.0
    num_cpus: Optional[float] = None
    batch_size: Optional[int] = None
    max_restarts: int = 3
    local_cpus: Optional[int] = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigurationError(f"workers must be >= 1, got {self.workers!r}")
        if self.num_gpus < 0 or (self.num_cpus is not None and self.num_cpus <= 0):
            raise ConfigurationError(
                f"num_gpus must be >= 0 and num_cpus > 0, got {self.num_gpus!r}, {self.num_cpus!r}"
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if self.max_restarts < 0:
            raise ConfigurationError(f"max_restarts must be >= 0, got {self.max_restarts!r}")


def check_shared_store(settings: Settings) -> None:
    """Refuse a Milvus Lite file: Ray workers are separate processes (maybe on other machines)."""
    if settings.backend == "milvus" and "://" not in settings.uri:
        uri = settings.uri
        raise ConfigurationError(LITE_FILE_MESSAGE.format(uri=uri, path=Path(uri).expanduser().absolute()))


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError("the ray engine needs Ray Data: pip install 'vecbridge[ray]'") from exc
    return ray


def _prepare(settings: Settings, source: FileSource, filterable: Optional[dict[str, str]]) -> dict[str, Any]:
    """Create the collection and its state on the driver (on CPU) and return the stored state, which
    the actors rebuild their encoders from. BM25 statistics are the collection's log: each actor adds
    what it wrote (``vecbridge/corpus_stats.py``); a collection with frozen statistics ships them."""
    from vecbridge.config import open_index

    driver = settings.model_copy(update={"device": "cpu", "reranker": None})
    corpus = lambda: (r.document.text for r in source.records() if r.document is not None)  # noqa: E731
    index = open_index(driver, filterable, corpus=corpus)
    try:
        state = index.connector.read_state(index.spec.name)
    finally:
        index.connector.close()
    if state is None:  # pragma: no cover - open_index just wrote it
        raise ConfigurationError(f"collection {index.spec.name!r}: no state in the store after creating it")
    return state


def _cause(exc: BaseException) -> Optional[VecbridgeError]:
    """The vecbridge error a worker raised, unwrapped from Ray's wrappers (``RayTaskError.cause``)."""
    seen: set[int] = set()
    todo: list[Optional[BaseException]] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        inner = getattr(err, "cause", None)
        if isinstance(inner, BaseException):
            todo.append(inner)  # the worker's own exception, not Ray's wrapper of it
        elif isinstance(err, VecbridgeError):
            return err
        todo += [err.__cause__, err.__context__]
    return None


_VECBRIDGE_ERROR = re.compile(r"^(?:vecbridge\.)?schemas\.errors\.(\w+): (.+)$", re.M)


def _worker_error(text: str) -> str:
    """A worker's error from Ray's report of it (Ray Data passes the worker's exception on as
    text): the last ``vecbridge.schemas.errors.X: message`` line, else the report's first and last lines."""
    found = _VECBRIDGE_ERROR.findall(text)
    if found:
        name, message = found[-1]
        return f"{name}: {message}"
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0] if len(lines) < 2 else f"{lines[0]} ... {lines[-1]}"


def _outcomes(
    ray: Any, settings: Settings, source: FileSource, state: dict[str, Any], options: RayOptions, batch_size: int
) -> Iterator[dict[str, Any]]:
    from vecbridge.distributed import worker
    from vecbridge.distributed.ranges import plan_ranges, read_ranges

    cpus = ray.cluster_resources().get("CPU", 1.0)
    num_cpus = options.num_cpus or min(1.0, cpus / (options.workers + 1))
    if options.num_cpus and options.num_cpus * options.workers >= cpus:
        log.warning(
            "%d workers x %s CPUs take all %s CPUs of the cluster: read tasks may starve",
            options.workers,
            options.num_cpus,
            cpus,
        )
    actor_settings = settings.model_copy(update={"reranker": None})
    if not options.num_gpus and settings.device == "auto":
        actor_settings = actor_settings.model_copy(update={"device": "cpu"})
    ranges = plan_ranges(source, pieces=options.workers * RANGES_PER_WORKER)
    ds = ray.data.from_items(ranges, override_num_blocks=len(ranges)).map_batches(
        read_ranges, batch_size=1, batch_format="pyarrow", num_cpus=min(num_cpus, 0.5)
    )
    with warnings.catch_warnings():  # Ray 2.60 has no named parameter for actor restarts yet
        warnings.filterwarnings("ignore", message=".*ray_remote_args. is deprecated")
        ds = ds.map_batches(
            worker.EncodeWriter,
            fn_constructor_kwargs={"settings": actor_settings, "state": state, "collection": settings.collection},
            batch_size=batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=options.workers),
            num_cpus=num_cpus,
            num_gpus=options.num_gpus or None,
            max_restarts=options.max_restarts,
            max_task_retries=options.max_restarts,
        )
    for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        yield from table.to_pylist()


def ingest_ray(
    settings: Settings,
    path: str | Path,
    *,
    filterable: Optional[dict[str, str]] = None,
    format: Optional[str] = None,
    dead_letter: Optional[str | Path] = None,
    options: RayOptions = RayOptions(),
    progress: bool = False,
) -> IngestReport:
    """Ingest a JSONL / CSV / Parquet file into ``settings.collection`` on Ray Data.

    The store must be shared (a Milvus or Milvus Lite server, Elasticsearch), the file readable at
    the same path on every node. Returns the report (dead letters as in-process, in completion
    order); raises ``IngestError`` when a worker hits a store failure (rerun: upserts are
    idempotent) or ``IngestInterrupted`` on Ctrl-C. No checkpoint: a rerun starts over."""
    check_shared_store(settings)
    source = FileSource(path, format)
    ray = _import_ray()
    state = _prepare(settings, source, filterable)
    batch_size = options.batch_size or settings.ingest_batch_size
    started = not ray.is_initialized()
    if started:
        local = {"num_cpus": options.local_cpus} if options.address is None else {}
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False, **local)
    ray.data.DataContext.get_current().enable_progress_bars = progress
    report = IngestReport(dead_letter=None if dead_letter is None else Path(dead_letter))
    dead = DeadLetters(report.dead_letter)
    failure: Optional[str] = None
    cause: Optional[VecbridgeError] = None
    try:
        for row in _outcomes(ray, settings, source, state, options, batch_size):
            kind = row.pop("kind")
            if kind == "dead":
                letter = {k: row[k] for k in ("line", "offset", "id", "stage", "reason", "raw")}
                dead.write(letter)
                report.acknowledge(0, 0, [letter])
            else:
                report.acknowledge(row["read"], row["written"], [])
                report.encoded += row["encoded"]
    except KeyboardInterrupt:
        raise IngestInterrupted(
            f"interrupted: {report.summary()} acknowledged; rerun to finish (upserts are idempotent)", report
        ) from None
    except Exception as exc:  # noqa: BLE001 - reported below, outside this block
        cause = _cause(exc)
        failure = f"{type(cause).__name__}: {cause}" if cause is not None else _worker_error(str(exc))
        log.info("ingestion on Ray failed: %s", str(exc))  # a string: a kept log record must not pin the actors
    finally:
        dead.sync()
        dead.close()
        if started:
            ray.shutdown()
    if failure is not None:
        # Raised outside the except block on purpose: Ray's exception (and its traceback) holds the
        # dataset's actor pool, whose CPUs/GPUs stay reserved for as long as anything references it;
        # the failed executor sits in reference cycles, so collect them now, not at some later GC.
        gc.collect()
        error = IngestError(
            f"ingestion stopped: {failure}; {report.summary()} acknowledged; rerun the same "
            "command to finish (upserts are idempotent)",
            report,
        )
        if cause is not None:
            error.__cause__ = cause.with_traceback(None)
        raise error
    return report
