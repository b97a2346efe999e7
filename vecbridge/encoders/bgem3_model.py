"""The BGE-M3 network (XLM-RoBERTa + sparse and ColBERT heads) and its FlagEmbedding folder layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from vecbridge.encoders.loading import COLBERT_HEAD_FILE, SPARSE_HEAD_FILE, check_bgem3_folder
from vecbridge.schemas import ModelNotFoundError


class BGEM3Network(nn.Module):
    """One forward pass -> (dense [B,H] normalised, token weights [B,T], ColBERT [B,T-1,D] normalised).

    Heads that are switched off return None and cost nothing; the encoder's pooler is never run.
    """

    def __init__(self, encoder: nn.Module, sparse_linear: nn.Linear, colbert_linear: nn.Linear):
        super().__init__()
        self.encoder: Any = encoder  # a transformers model; callers read its ``config``
        self.sparse_linear = sparse_linear
        self.colbert_linear = colbert_linear

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        dense: bool = True,
        sparse: bool = True,
        colbert: bool = True,
    ) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor], Optional[torch.Tensor]]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, return_dict=True).last_hidden_state
        dense_vecs = F.normalize(hidden[:, 0], dim=-1) if dense else None
        weights = torch.relu(self.sparse_linear(hidden)).squeeze(-1) if sparse else None
        colbert_vecs = F.normalize(self.colbert_linear(hidden[:, 1:]), dim=-1) if colbert else None
        return dense_vecs, weights, colbert_vecs


def load_bgem3_network(
    path: Path, dtype: torch.dtype = torch.float32, attn_implementation: Optional[str] = None
) -> BGEM3Network:
    """Build the network from a FlagEmbedding BGE-M3 folder (weights + ``*_linear.pt`` heads)."""
    from transformers import AutoModel

    check_bgem3_folder(path)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    encoder = AutoModel.from_pretrained(str(path), **kwargs)
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None  # BGE-M3 never uses the pooled output: skip its matmul
    hidden = encoder.config.hidden_size
    colbert_state = torch.load(path / COLBERT_HEAD_FILE, map_location="cpu", weights_only=True)
    sparse_state = torch.load(path / SPARSE_HEAD_FILE, map_location="cpu", weights_only=True)
    if "weight" not in colbert_state or "weight" not in sparse_state:
        raise ModelNotFoundError(
            f"{str(path)!r}: {COLBERT_HEAD_FILE}/{SPARSE_HEAD_FILE} must hold nn.Linear state dicts "
            f"(keys weight, bias), got {sorted(colbert_state)} / {sorted(sparse_state)}"
        )
    colbert_linear = nn.Linear(hidden, int(colbert_state["weight"].shape[0]), dtype=dtype)
    sparse_linear = nn.Linear(hidden, 1, dtype=dtype)
    colbert_linear.load_state_dict(colbert_state)
    sparse_linear.load_state_dict(sparse_state)
    return BGEM3Network(encoder, sparse_linear, colbert_linear).eval()
