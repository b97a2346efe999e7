"""Adapters that let vecbridge drop into RAG frameworks (each behind its own extra).

- ``vecbridge.integrations.haystack``: Haystack 2.x ``DocumentStore`` and retriever components
  (``pip install vecbridge[haystack]``).

Importing this package imports no framework; each submodule imports its own.
"""
