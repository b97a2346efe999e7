"""Fine-tuning from a FlagEmbedding ``{"query", "pos", "neg"}`` JSONL file.

Nothing here is a training loop of ours:

- a sentence-transformers folder is trained with ``SentenceTransformerTrainer`` and
  ``MultipleNegativesRankingLoss`` (in-batch negatives plus the file's hard negatives), with the
  trainer's own progress bar and checkpoints (``resume=True`` continues from the newest one);
- a BGE-M3 folder (FlagEmbedding layout) is handed to FlagEmbedding's own M3 runner
  (``FlagEmbedding.finetune.embedder.encoder_only.m3``: dense + sparse + ColBERT, unified
  fine-tuning with self-distillation) through the command :func:`m3_command` builds.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from vecbridge.encoders.loading import has_bgem3_heads, resolve_model_path
from vecbridge.encoders.scripts import model_card_languages
from vecbridge.schemas import ConfigurationError

CHECKPOINT_PREFIX = "checkpoint-"


@dataclass(frozen=True)
class FinetuneOptions:
    """Training hyper-parameters shared by both paths (names follow transformers' TrainingArguments)."""

    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    hard_negatives: int = 1  # per (query, positive) row; FlagEmbedding's train_group_size - 1
    max_seq_length: Optional[int] = None  # training length (None: the model's own); the saved model keeps its own
    query_max_length: int = 64  # BGE-M3 only
    max_steps: int = -1  # > 0 overrides epochs (CI runs a few steps)
    save_steps: int = 100
    save_total_limit: int = 2
    seed: int = 42
    extra_args: Sequence[str] = field(default_factory=tuple)  # passed verbatim to FlagEmbedding's runner


def read_examples(path: Path) -> list[dict[str, Any]]:
    """Every line of a FlagEmbedding file, validated; raises ``ConfigurationError`` naming bad lines."""
    from vecbridge.evaluation.training_data import validate_line

    examples, bad = [], []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            example, reason = validate_line(line)
            if example is None:
                bad.append(f"line {number}: {reason}")
            else:
                examples.append(example.model_dump())
    if bad:
        raise ConfigurationError(
            f"training file {str(path)!r} has {len(bad)} bad lines, e.g. {bad[:3]}; run `vecbridge data validate` on it"
        )
    if not examples:
        raise ConfigurationError(f"training file {str(path)!r} holds no examples")
    return examples


def triplet_rows(examples: Sequence[dict[str, Any]], hard_negatives: int, seed: int = 42) -> Iterator[dict[str, str]]:
    """One row per (query, positive): ``anchor``, ``positive`` and ``negative_1..k``.

    Negatives are drawn without replacement from the example's ``neg`` list (deterministic in
    ``seed`` and the row), topped up with repeats when the list is shorter than ``k``; an example
    without negatives when ``k > 0`` is an error, since the loss needs the same columns on every row.
    """
    if hard_negatives < 0:
        raise ConfigurationError(f"hard_negatives must be >= 0, got {hard_negatives}")
    for index, example in enumerate(examples):
        negatives = list(example.get("neg") or [])
        if hard_negatives and not negatives:
            raise ConfigurationError(
                f"example {index} (query {example['query'][:60]!r}) has no 'neg' "
                f"but hard_negatives={hard_negatives}; pass 0 for in-batch negatives only"
            )
        for p, positive in enumerate(example["pos"]):
            row = {"anchor": example["query"], "positive": positive}
            if hard_negatives:
                rng = random.Random(f"{seed}:{index}:{p}")
                picked = rng.sample(negatives, min(hard_negatives, len(negatives)))
                while len(picked) < hard_negatives:
                    picked.append(rng.choice(negatives))
                row.update({f"negative_{i + 1}": text for i, text in enumerate(picked)})
            yield row


def latest_checkpoint(checkpoint_dir: Path) -> Optional[Path]:
    """The newest ``checkpoint-N`` folder the trainer wrote, or None."""
    if not checkpoint_dir.is_dir():
        return None
    found = [
        p
        for p in checkpoint_dir.iterdir()
        if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX) and p.name[len(CHECKPOINT_PREFIX) :].isdigit()
    ]
    return max(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX) :]), default=None)


def _resume_point(checkpoint_dir: Path, resume: bool) -> Optional[str]:
    if not resume:
        return None
    checkpoint = latest_checkpoint(checkpoint_dir)
    if checkpoint is None:
        raise ConfigurationError(f"--resume: no {CHECKPOINT_PREFIX}N folder in {str(checkpoint_dir)!r}")
    return str(checkpoint)


def model_languages(folder: Path) -> list[str]:
    """The ``language:`` tags of a model card (README front matter), so a fine-tuned copy keeps them."""
    return model_card_languages(folder)


def finetune_dense(
    train_file: Path,
    base_model: str,
    output_dir: Path,
    options: FinetuneOptions = FinetuneOptions(),
    checkpoint_dir: Optional[Path] = None,
    resume: bool = False,
    progress: bool = True,
) -> Path:
    """Train a sentence-transformers model; returns ``output_dir`` (a folder ``load_encoder`` reads)."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerModelCardData,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )

    try:  # sentence-transformers >= 5.7 moved them; the old paths still work, with a warning
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
        from sentence_transformers.sentence_transformer.training_args import BatchSamplers
    except ImportError:
        from sentence_transformers.losses import MultipleNegativesRankingLoss  # type: ignore[no-redef]  # < 5.7
        from sentence_transformers.training_args import BatchSamplers  # type: ignore[no-redef]  # < 5.7

    base_path = resolve_model_path(base_model)
    checkpoint_dir = checkpoint_dir or output_dir.with_name(output_dir.name + "-checkpoints")
    resume_from = _resume_point(checkpoint_dir, resume)
    rows = list(triplet_rows(read_examples(train_file), options.hard_negatives, options.seed))
    card = SentenceTransformerModelCardData(language=model_languages(base_path) or None)
    model = SentenceTransformer(str(base_path), device="cpu" if not _cuda() else None, model_card_data=card)
    inference_length = model.max_seq_length
    if options.max_seq_length:  # a shorter training length (cheaper steps) must not shorten inference
        model.max_seq_length = options.max_seq_length
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=options.epochs,
        max_steps=options.max_steps,
        per_device_train_batch_size=options.batch_size,
        learning_rate=options.learning_rate,
        warmup_ratio=options.warmup_ratio,
        seed=options.seed,
        data_seed=options.seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES,  # a duplicate text in a batch would be a false negative
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=options.save_total_limit,
        logging_steps=max(1, min(options.save_steps, 10)),
        report_to="none",
        disable_tqdm=not progress,
        use_cpu=not _cuda(),
        dataloader_drop_last=False,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        loss=MultipleNegativesRankingLoss(model),
    )
    trainer.train(resume_from_checkpoint=resume_from)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.max_seq_length = inference_length
    model.save(str(output_dir))
    return output_dir


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def m3_command(
    train_file: Path,
    base_model: str,
    output_dir: Path,
    options: FinetuneOptions = FinetuneOptions(),
    nproc: int = 0,
    resume: bool = False,
) -> list[str]:
    """The FlagEmbedding M3 unified fine-tuning launch (FlagEmbedding's documented BGE-M3 options).

    ``nproc > 0`` launches with ``torchrun --nproc_per_node N`` and shares negatives across devices;
    ``nproc == 0`` runs one process (the CPU case). fp16 is on only with CUDA. Teacher scores
    (``knowledge_distillation``) are used when every example carries ``pos_scores``/``neg_scores``.
    """
    base_path = resolve_model_path(base_model)
    if not has_bgem3_heads(base_path):
        raise ConfigurationError(f"{base_model!r} is not a BGE-M3 folder (no sparse_linear.pt / colbert_linear.pt)")
    examples = read_examples(train_file)
    distill = all(e.get("pos_scores") and e.get("neg_scores") for e in examples)
    passage_len = options.max_seq_length or 512
    launcher = ["torchrun", "--nproc_per_node", str(nproc)] if nproc > 0 else [sys.executable]
    command = [
        *launcher,
        "-m",
        "FlagEmbedding.finetune.embedder.encoder_only.m3",
        "--model_name_or_path",
        str(base_path),
        "--train_data",
        str(train_file),
        "--train_group_size",
        str(options.hard_negatives + 1),
        "--query_max_len",
        str(options.query_max_length),
        "--passage_max_len",
        str(passage_len),
        "--pad_to_multiple_of",
        "8",
        "--knowledge_distillation",
        str(distill),
        "--same_dataset_within_batch",
        "True",
        "--small_threshold",
        "0",
        "--drop_threshold",
        "0",
        "--output_dir",
        str(output_dir),
        "--learning_rate",
        str(options.learning_rate),
        "--num_train_epochs",
        str(options.epochs),
        "--max_steps",
        str(options.max_steps),
        "--per_device_train_batch_size",
        str(options.batch_size),
        "--dataloader_drop_last",
        "True",
        "--warmup_ratio",
        str(options.warmup_ratio),
        "--logging_steps",
        "1",
        "--save_steps",
        str(options.save_steps),
        "--save_total_limit",
        str(options.save_total_limit),
        "--seed",
        str(options.seed),
        "--temperature",
        "0.02",
        "--sentence_pooling_method",
        "cls",
        "--normalize_embeddings",
        "True",
        "--kd_loss_type",
        "m3_kd_loss",
        "--unified_finetuning",
        "True",
        "--use_self_distill",
        "True",
        "--fix_encoder",
        "False",
        "--self_distill_start_step",
        "0",
        "--report_to",
        "none",
    ]
    if _cuda():
        command += ["--fp16", "--gradient_checkpointing"]
    else:
        command += ["--use_cpu", "True"]
    if nproc > 1:
        command += ["--negatives_cross_device"]
    if resume:
        # FlagEmbedding 1.4.2 + transformers 4.57: the runner's resume_from_checkpoint crashes
        # ('EncoderOnlyEmbedderM3Model' has no '_keys_to_ignore_on_save'), and the checkpoint's weights
        # (the bare encoder) do not match the wrapper's keys, so they would not be restored anyway.
        latest = _resume_point(output_dir, True)
        raise ConfigurationError(
            f"--resume is not available for BGE-M3: FlagEmbedding's M3 runner cannot resume a run. Continue from "
            f"the newest checkpoint's weights instead (optimizer and schedule restart): --model {latest} with a "
            f"new --output folder"
        )
    return command + ["--overwrite_output_dir"] + list(options.extra_args)


def finetune_m3(
    train_file: Path,
    base_model: str,
    output_dir: Path,
    options: FinetuneOptions = FinetuneOptions(),
    nproc: int = 0,
    resume: bool = False,
    dry_run: bool = False,
) -> list[str]:
    """Run (or with ``dry_run`` only build) FlagEmbedding's M3 runner; returns the command."""
    command = m3_command(train_file, base_model, output_dir, options, nproc, resume)
    if not dry_run:
        completed = subprocess.run(command, check=False)
        if completed.returncode != 0:
            raise ConfigurationError(
                f"FlagEmbedding's M3 runner exited with code {completed.returncode}: {' '.join(command)}"
            )
        write_languages(output_dir, model_languages(resolve_model_path(base_model)))
    return command


def write_languages(folder: Path, languages: Sequence[str]) -> None:
    """Record the base model's language tags beside a checkpoint FlagEmbedding wrote (no card of its own)."""
    if languages and not (folder / "README.md").is_file():
        tags = "\n".join(f"- {lang}" for lang in languages)
        (folder / "README.md").write_text(f"---\nlanguage:\n{tags}\n---\n", encoding="utf-8")


def is_m3(base_model: str) -> bool:
    return has_bgem3_heads(resolve_model_path(base_model))


__all__ = [
    "FinetuneOptions",
    "finetune_dense",
    "finetune_m3",
    "m3_command",
    "read_examples",
    "triplet_rows",
    "latest_checkpoint",
    "is_m3",
]
