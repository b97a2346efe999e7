"""Folder sources: .txt, .md, .html and .pdf files (generated here) become one document each; bad files
become dead-letter rows naming the file and the reason, and never stop the run."""

from __future__ import annotations

import os

import pytest

from tests.facade.fakes import InMemoryConnector
from tests.ingest.fakes import dead_rows, make_index
from vecbridge.ingest import ingest
from vecbridge.ingest.files import FolderSource, html_to_text, markdown_to_text

pytest.importorskip("pypdf")
pytest.importorskip("selectolax")


def minimal_pdf(pages, title=None) -> bytes:
    """A PDF with one Helvetica text line per page (written by hand: pypdf does not lay out text)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {len(objects)} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>"
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    if title:
        objects.append(f"<< /Title ({title}) >>")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    info = f" /Info {len(objects)} 0 R" if title else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def make_folder(root):
    (root / "notes").mkdir(parents=True)
    (root / "plain.txt").write_text("First paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    (root / "notes" / "guide.md").write_text(
        "# Install guide\n\nRun **pip install** now.\n\n- one item\n- two item\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        encoding="utf-8",
    )
    (root / "page.html").write_text(
        "<html><head><title>Page title</title><style>p {color: red}</style><script>var hidden = 1;</script></head>"
        "<body><h1>Heading</h1><p>Some <b>bold</b> words.</p><ul><li>alpha</li><li>beta</li></ul></body></html>",
        encoding="utf-8",
    )
    (root / "paper.pdf").write_bytes(minimal_pdf(["Hello page one.", "Second page here."], title="A paper"))
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=root / "paper.pdf")
    writer.encrypt("secret", algorithm="RC4-128")
    writer.write(root / "locked.pdf")
    (root / "binary.txt").write_bytes(b"\x00\x01\x02garbage\xff")
    (root / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    (root / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    (root / "image.png").write_bytes(b"\x89PNG\r\n")
    (root / ".hidden.txt").write_text("never read", encoding="utf-8")
    os.utime(root / "plain.txt", (1_700_000_000, 1_700_000_000))
    return root


def test_each_readable_file_is_one_document_with_path_title_type_and_modified(tmp_path):
    folder = make_folder(tmp_path / "docs")
    records = {r.doc_id: r for r in FolderSource(folder).records()}
    assert ".hidden.txt" not in records
    good = {i: r.document for i, r in records.items() if r.document is not None}
    assert sorted(good) == ["notes/guide.md", "page.html", "paper.pdf", "plain.txt"]
    assert good["plain.txt"].text == "First paragraph.\n\nSecond paragraph."
    assert good["plain.txt"].metadata == {
        "path": "plain.txt",
        "type": "text",
        "title": "plain",
        "modified": "2023-11-14T22:13:20+00:00",
    }
    guide = good["notes/guide.md"]
    assert guide.metadata["title"] == "Install guide" and guide.metadata["type"] == "markdown"
    assert guide.text.split("\n\n")[:4] == ["Install guide", "Run pip install now.", "one item", "two item"]
    assert "**" not in guide.text and "|" not in guide.text
    page = good["page.html"]
    assert page.metadata["title"] == "Page title"
    assert page.text == "Heading\n\nSome bold words.\n\nalpha\n\nbeta"
    pdf = good["paper.pdf"]
    assert pdf.text == "Hello page one.\n\nSecond page here." and pdf.metadata["pages"] == 2
    assert pdf.metadata["title"] == "A paper"


def test_bad_files_fail_with_the_file_and_the_reason(tmp_path):
    folder = make_folder(tmp_path / "docs")
    errors = {r.doc_id: r.error for r in FolderSource(folder).records() if r.document is None}
    assert set(errors) == {"locked.pdf", "binary.txt", "latin1.md", "broken.pdf", "image.png"}
    assert errors["locked.pdf"] == "locked.pdf: encrypted PDF (needs a password)"
    assert errors["binary.txt"].startswith("binary.txt: binary content")
    assert errors["latin1.md"].startswith("latin1.md: not UTF-8 text")
    assert errors["broken.pdf"].startswith("broken.pdf: unreadable PDF")
    assert "unsupported file type '.png'" in errors["image.png"]


def test_ingesting_a_folder_dead_letters_the_bad_files_and_writes_the_rest(tmp_path):
    folder = make_folder(tmp_path / "docs")
    index = make_index(InMemoryConnector())
    report = ingest(index, folder, dead_letter=tmp_path / "dl.jsonl", chunk_tokens=4)
    assert report.read == report.written + len(report.failed) + report.skipped
    assert len(report.failed) == 5
    rows = dead_rows(tmp_path / "dl.jsonl")
    assert {r["id"] for r in rows} == {"locked.pdf", "binary.txt", "latin1.md", "broken.pdf", "image.png"}
    assert all(r["raw"] == r["id"] and r["stage"] == "read" for r in rows)
    parents = {d.metadata["parent_id"] for d in index.iterate()}
    assert parents == {"notes/guide.md", "page.html", "paper.pdf", "plain.txt"}


def test_syncing_a_folder_follows_edits_and_removals(tmp_path):
    folder = make_folder(tmp_path / "docs")
    index = make_index(InMemoryConnector())
    first = index.sync(folder, cleanup="full")
    assert first.added == 4 and len(first.failed) == 5 and first.balanced
    (folder / "plain.txt").write_text("Rewritten.", encoding="utf-8")
    (folder / "page.html").unlink()
    (folder / "locked.pdf").unlink()
    second = index.sync(folder, cleanup="full")
    assert (second.updated, second.unchanged, second.deleted) == (1, 2, 1)
    assert sorted(d.id for d in index.iterate()) == ["notes/guide.md", "paper.pdf", "plain.txt"]


def test_html_and_markdown_converters_keep_paragraphs_and_drop_markup():
    text, title = html_to_text("<p>a&amp;b <i>c</i></p><div>d<br>e</div><noscript>x</noscript>")
    assert (text, title) == ("a&b c\n\nd\n\ne", None)
    text, title = markdown_to_text("Intro *with* `code`.\n\n## Part\n\n```\nblock\n```\n")
    assert text == "Intro with code.\n\nPart\n\nblock" and title is None
