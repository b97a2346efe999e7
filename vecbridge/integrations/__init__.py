"""Adapters that plug a vecbridge ``HybridIndex`` into RAG frameworks.

Each module imports its framework at import time and lives behind its own extra:
``vecbridge.integrations.langchain`` (``pip install vecbridge[langchain]``), ``haystack``, ``llamaindex``.
``import vecbridge`` never imports them.
"""
