"""Folder sources: every file under a folder becomes one document (id: its path relative to the folder).

``.txt`` is read as UTF-8; ``.md`` is rendered by markdown-it-py and ``.html`` parsed by selectolax
(lexbor), both turned into text with one paragraph per block element; ``.pdf`` is read by pypdf,
pages separated by a blank line. Metadata: ``path``, ``title`` (the HTML title, first heading, PDF
title, else the file name), ``type``, ``modified`` (ISO-8601, UTC) and, for PDFs, ``pages``. A file
that cannot be read (not UTF-8, binary, encrypted, damaged, no text, another type) becomes a failed
record naming the file and the reason; the run goes on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from vecbridge.ingest.records import Record, _validation_reason, valid_texts
from vecbridge.schemas import ConfigurationError, Document

TYPES = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    }
)
HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "svg"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class FileError(Exception):
    """Why one file cannot become a document (the reader turns it into a failed record)."""


def tidy(text: str) -> str:
    """Spaces collapsed within lines, lines stripped, at most one blank line between paragraphs."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _walk(node: Any, out: list[str]) -> None:
    for child in node.iter(include_text=True):
        if child.tag == "-text":
            out.append(child.text_content or "")
        elif child.tag not in HIDDEN:
            block = child.tag in BLOCKS
            out.append("\n\n" if block else "")
            _walk(child, out)
            out.append("\n\n" if block else "")


def html_to_text(html: str) -> tuple[str, Optional[str]]:
    """``(text, title)`` of an HTML page: visible text, a paragraph per block element."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title") or tree.css_first("h1")
    title = tidy(title_node.text()) if title_node is not None else None
    out: list[str] = []
    if tree.body is not None:
        _walk(tree.body, out)
    return tidy("".join(out)), title or None


def markdown_to_text(markdown: str) -> tuple[str, Optional[str]]:
    """``(text, title)`` of a Markdown file: rendered by markdown-it-py (CommonMark + tables), then as HTML."""
    from markdown_it import MarkdownIt

    return html_to_text(MarkdownIt("commonmark").enable("table").render(markdown))


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise FileError("binary content (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileError(f"not UTF-8 text (byte {exc.start}: {exc.reason})") from None


def pdf_to_text(path: Path) -> tuple[str, Optional[str], int]:
    """``(text, title, pages)`` of a PDF (pypdf); encrypted or damaged files raise ``FileError``."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))
            except Exception:  # noqa: BLE001 - pypdf raises several kinds for unsupported encryption
                opened = False
            if not opened:
                raise FileError("encrypted PDF (needs a password)")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata is not None else None
    except FileError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged PDF fails in many ways inside pypdf
        raise FileError(f"unreadable PDF: {type(exc).__name__}: {exc}") from None
    return "\n\n".join(tidy(p) for p in pages), (tidy(title) if isinstance(title, str) else None) or None, len(pages)


def read_file(root: Path, path: Path) -> Document:
    """The document of one file under ``root``; ``FileError`` says why there is none."""
    kind = TYPES.get(path.suffix.lower())
    if kind is None:
        raise FileError(f"unsupported file type {path.suffix or '(no suffix)'!r}; readable: {sorted(TYPES)}")
    try:
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
        metadata: dict[str, Any] = {
            "path": path.relative_to(root).as_posix(),
            "type": kind,
            "modified": modified.isoformat(),
        }
        if kind == "pdf":
            text, title, metadata["pages"] = pdf_to_text(path)
        else:
            raw = _decode(path.read_bytes())
            text, title = (
                (raw.strip(), None)
                if kind == "text"
                else (markdown_to_text(raw) if kind == "markdown" else html_to_text(raw))
            )
    except OSError as exc:
        raise FileError(f"cannot read: {exc.strerror or exc}") from None
    if not text.strip():
        raise FileError("no text in the file")
    metadata["title"] = title or path.stem
    try:
        return Document(id=metadata["path"], text=text, metadata=metadata)
    except ValidationError as exc:
        raise FileError(_validation_reason(exc)) from None


class FolderSource:
    """The files under a folder, in path order (hidden files and folders left out), one record each;
    ``line`` is the file's number in that order. Not restartable by checkpoint: ``sync`` is the
    resumable way to read a folder (it skips what the store already holds)."""

    format = None

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise ConfigurationError(f"input folder {str(self.path)!r} does not exist or is not a folder")

    def files(self) -> list[Path]:
        found = (p for p in self.path.rglob("*") if p.is_file() or p.is_symlink())
        return sorted(
            (p for p in found if not any(part.startswith(".") for part in p.relative_to(self.path).parts)),
            key=lambda p: p.relative_to(self.path).as_posix(),
        )

    def records(self, cursor: Any = None) -> Iterator[Record]:
        start = getattr(cursor, "line", 0)
        for number, path in enumerate(self.files(), 1):
            if number <= start:
                continue
            name = path.relative_to(self.path).as_posix()
            try:
                document = read_file(self.path, path)
            except FileError as exc:
                yield Record(line=number, raw=name, error=f"{name}: {exc}", doc_id=name)
                continue
            yield Record(line=number, raw=name, document=document, doc_id=document.id)

    def texts(self) -> Iterator[str]:
        """The text of every readable file (see ``valid_texts``)."""
        return valid_texts(self.records(), self.path)

    def progress(self) -> tuple[Optional[int], str]:
        return len(self.files()), "file"

    def position(self, cursor: Any) -> int:
        return cursor.line

    def __str__(self) -> str:
        return str(self.path)
