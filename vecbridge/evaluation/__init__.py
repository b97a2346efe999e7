"""Retrieval evaluation on BEIR-format data, fusion tuning and fine-tuning data tools.

Metrics come from ``ranx``; fusion is the facade's pinned ``vecbridge.fusion.rrf``.
"""
