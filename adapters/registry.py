"""Moved: the adapter registry lives in `connector.registry` (add new adapters to `KNOWN` there).

Kept only so branches written before the move still import; new code imports `connector.registry`.
"""

from connector.registry import KNOWN, factory, settings_class

__all__ = ["KNOWN", "factory", "settings_class"]
