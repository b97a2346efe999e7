"""Resume checkpoints: which file (identity), how far it is acknowledged, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from vecbridge.ingest.sources import Cursor, FileSource
from vecbridge.schemas import ConfigurationError

VERSION = 1
HEAD_BYTES = 1 << 20


def file_identity(path: Path) -> dict[str, Any]:
    """Size, modification time (ns) and SHA-256 of the first MiB: a changed, replaced, truncated or
    appended file differs in at least one, and computing it costs one small read."""
    stat = path.stat()
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(HEAD_BYTES)).hexdigest()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head}


def atomic_write(path: Path, text: str) -> None:
    """tmp file + fsync + rename (+ fsync of the folder): a reader sees the old or the new file, whole."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - folders cannot be opened on some platforms
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Checkpoint:
    """The state a resumed run needs. ``line``/``offset``: the source is acknowledged through
    there (every record before it written, failed or skipped, and dead-lettered);
    ``dead_letter_bytes``: the dead-letter file's length at that point; ``totals``: cumulative
    read/written/failed/skipped counts of all runs so far."""

    source: dict[str, Any]
    collection: str
    format: str
    chunking: Optional[dict[str, int]] = None
    line: int = 0
    offset: int = 0
    dead_letter: Optional[str] = None
    dead_letter_bytes: int = 0
    totals: dict[str, int] = field(default_factory=lambda: {"read": 0, "written": 0, "failed": 0, "skipped": 0})
    complete: bool = False
    version: int = VERSION

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.line, self.offset)

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps(asdict(self), ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != VERSION:
                raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
            return cls(**data)
        except FileNotFoundError:
            raise ConfigurationError(f"--resume: no checkpoint at {str(path)!r}; run without --resume to start") from None
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"checkpoint {str(path)!r} is not readable: {exc}") from None

    @classmethod
    def start(cls, source: FileSource, collection: str, chunking: Optional[dict[str, int]]) -> Checkpoint:
        return cls(source=file_identity(source.path), collection=collection, format=source.format.value,
                   chunking=chunking)

    def check(self, source: FileSource, collection: str, chunking: Optional[dict[str, int]], path: Path) -> None:
        """Refuse to resume onto another file, collection or chunking, naming what differs."""
        now = file_identity(source.path)
        changed = [k for k in ("size", "mtime_ns", "head_sha256") if now[k] != self.source.get(k)]
        if changed:
            raise ConfigurationError(
                f"--resume: {str(source.path)!r} is not the file checkpointed in {str(path)!r} "
                f"({self.source.get('path')}; {', '.join(changed)} differ); run without --resume to start over"
            )
        for name, mine, theirs in (("collection", self.collection, collection), ("format", self.format, source.format.value),
                                   ("chunking", self.chunking, chunking)):
            if mine != theirs:
                raise ConfigurationError(
                    f"--resume: checkpoint {str(path)!r} has {name}={mine!r}, this run has {name}={theirs!r}"
                )
