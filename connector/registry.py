"""The known adapters by name, imported lazily so an unused CRM costs nothing.

The core names each adapter package by its module path and loads it with `importlib` when the
YAML enables it: it never imports an adapter statically (tests/unit/test_layers.py).

Each adapter package exposes `Settings` (a frozen dataclass, its YAML section) and
`create(settings, context) -> Adapter`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.crm import Adapter, AdapterContext
    from connector.settings_schema import Located

KNOWN: dict[str, str] = {
    "builtin": "adapters.builtin",
    "amocrm": "adapters.amocrm",
    "bitrix24": "adapters.bitrix24",
    "webhook": "adapters.webhook",
}


def settings_class(name: str, where: Located) -> type[Any]:
    """The settings dataclass of adapter `name` (a `ConfigError` for unknown names)."""
    import difflib

    if name not in KNOWN:
        close = difflib.get_close_matches(name, list(KNOWN), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(KNOWN)})"
        raise where.error(f"adapters.{name}", f"unknown adapter{hint}")
    module = importlib.import_module(KNOWN[name])
    cls: type[Any] = module.Settings
    return cls


def factory(name: str) -> Callable[[Any, AdapterContext], Adapter]:
    """The `create` function of adapter `name`."""
    module = importlib.import_module(KNOWN[name])
    create: Callable[[Any, AdapterContext], Adapter] = module.create
    return create
