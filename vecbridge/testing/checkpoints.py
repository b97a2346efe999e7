"""Offline stand-in checkpoints for BGE-M3 / bge-reranker-v2-m3 benchmarks and tests.

Builds an XLM-RoBERTa-compatible tokenizer (Unigram + Metaspace, ``<s> <pad> </s> <unk>`` at ids 0..3,
``<mask>`` last, like XLM-R) trained on the fly, plus random-weight XLM-RoBERTa checkpoints in
FlagEmbedding's BGE-M3 folder layout (``sparse_linear.pt``, ``colbert_linear.pt``). Nothing is
downloaded. The tokenizer trains on the texts below, plus SciFact and FlagEmbedding's toy data when
they are under ``DATA_DIR`` (``VECBRIDGE_TEST_DATA``; default ``../shared/data`` beside a checkout).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

DATA_DIR = Path(os.environ.get("VECBRIDGE_TEST_DATA") or Path(__file__).resolve().parents[2] / "../shared/data")

ENGLISH_TEXTS = [
    "BGE-M3 produces dense, sparse and multi-vector (ColBERT) embeddings in one forward pass.",
    "Hybrid retrieval combines lexical matching with semantic similarity.",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away again and again.",
    "Vector databases such as Milvus and Elasticsearch store embeddings for nearest-neighbour search.",
    "unk? ¿qué? naïve café résumé — emoji 🙂 and numbers 12345 67.89",
    "a",
]
CHINESE_TEXTS = [
    "北京是中华人民共和国的首都，也是全国的政治和文化中心。",
    "混合检索结合了稀疏的词汇匹配和稠密的语义向量。",
    "什么是向量数据库？",
    "BGE-M3 模型支持一百多种语言，包括中文和English混合文本。",
]


def _training_corpus() -> list[str]:
    """English/Chinese sentences available offline: SciFact titles, FlagEmbedding toy data, jieba words."""
    lines: list[str] = list(ENGLISH_TEXTS + CHINESE_TEXTS)
    corpus = DATA_DIR / "scifact" / "corpus.jsonl"
    if corpus.is_file():
        with corpus.open(encoding="utf-8") as handle:
            for i, line in enumerate(handle):
                if i >= 1500:
                    break
                record = json.loads(line)
                lines.append(record["title"])
                lines.append(record["text"][:400])
    toy = DATA_DIR / "flagembedding_toy" / "toy_finetune_data.jsonl"
    if toy.is_file():
        for line in toy.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            lines.extend([record["query"], *record["pos"], *record["neg"]])
    try:
        import jieba

        dict_path = Path(jieba.__file__).parent / "dict.txt"
        words = [line.split(" ", 1)[0] for line in dict_path.read_text(encoding="utf-8").splitlines()[:20000]]
        lines.extend(" ".join(words[i : i + 20]) for i in range(0, len(words), 20))
    except Exception:  # jieba is optional: the tokenizer then just sees fewer Chinese words
        pass
    return lines


def build_xlmr_tokenizer(folder: Path, vocab_size: int = 4000, texts: Iterable[str] | None = None) -> int:
    """Train and save an XLMRobertaTokenizerFast-compatible tokenizer into ``folder``; returns its size."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaTokenizerFast

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    tokenizer.train_from_iterator(list(texts) if texts is not None else _training_corpus(), trainer=trainer)
    tokenizer.add_special_tokens(["<mask>"])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    fast = XLMRobertaTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=8192,
    )
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(folder))
    return len(fast)


def copy_tokenizer(source: Path, folder: Path) -> int:
    """Copy a saved tokenizer into ``folder``; returns its size."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(source))
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(folder))
    return len(tokenizer)


def _tokenizer_into(folder: Path, tokenizer_dir: Path | None, tokenizer_vocab: int) -> int:
    if tokenizer_dir is not None:
        return copy_tokenizer(tokenizer_dir, folder)
    return build_xlmr_tokenizer(folder, vocab_size=tokenizer_vocab)


def _xlmr_config(vocab_size: int, hidden: int, layers: int, heads: int, intermediate: int, max_positions: int):
    from transformers import XLMRobertaConfig

    return XLMRobertaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=max_positions + 2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        type_vocab_size=1,
    )


def build_bgem3_checkpoint(
    folder: Path,
    *,
    hidden: int = 96,
    layers: int = 2,
    heads: int = 4,
    intermediate: int = 192,
    vocab_size: int | None = None,
    max_positions: int = 512,
    seed: int = 0,
    tokenizer_vocab: int = 4000,
    tokenizer_dir: Path | None = None,
) -> Path:
    """A random-weight BGE-M3-layout folder: XLM-R weights + tokenizer + sparse/colbert heads."""
    import torch
    from transformers import XLMRobertaModel

    size = _tokenizer_into(folder, tokenizer_dir, tokenizer_vocab)
    torch.manual_seed(seed)
    config = _xlmr_config(vocab_size or size, hidden, layers, heads, intermediate, max_positions)
    model = XLMRobertaModel(config, add_pooling_layer=True).eval()
    model.save_pretrained(str(folder))
    sparse = torch.nn.Linear(hidden, 1)
    colbert = torch.nn.Linear(hidden, hidden)
    with torch.no_grad():  # a positive bias so plenty of tokens get a non-zero lexical weight
        sparse.bias.fill_(0.05)
    torch.save(sparse.state_dict(), folder / "sparse_linear.pt")
    torch.save(colbert.state_dict(), folder / "colbert_linear.pt")
    return folder


def build_reranker_checkpoint(
    folder: Path,
    *,
    hidden: int = 96,
    layers: int = 2,
    heads: int = 4,
    intermediate: int = 192,
    seed: int = 1,
    tokenizer_vocab: int = 4000,
    tokenizer_dir: Path | None = None,
) -> Path:
    """A random-weight XLMRobertaForSequenceClassification (num_labels=1), like bge-reranker-v2-m3."""
    import torch
    from transformers import XLMRobertaForSequenceClassification

    size = _tokenizer_into(folder, tokenizer_dir, tokenizer_vocab)
    torch.manual_seed(seed)
    config = _xlmr_config(size, hidden, layers, heads, intermediate, 512)
    config.num_labels = 1
    XLMRobertaForSequenceClassification(config).eval().save_pretrained(str(folder))
    return folder
