"""Framework adapters over ``HybridIndex``; each needs its framework's extra (``vecbridge[llamaindex]``, ...).

Import them by module (``vecbridge.integrations.llamaindex``): nothing here imports a framework.
"""
