"""PHP-style query strings (`FIELDS[PHONE][0][VALUE]=...`), the form `batch` commands take."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote


def build_query(params: Mapping[str, Any]) -> str:
    """Encode nested mappings and lists the way PHP's http_build_query does."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        _flatten(str(key), value, pairs)
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def _flatten(prefix: str, value: Any, pairs: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{prefix}[{key}]", item, pairs)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _flatten(f"{prefix}[{index}]", item, pairs)
    elif value is None:
        pairs.append((prefix, ""))
    elif isinstance(value, bool):
        pairs.append((prefix, "1" if value else "0"))  # as PHP does
    else:
        pairs.append((prefix, str(value)))


def command(method: str, params: Mapping[str, Any]) -> str:
    """One `batch` command: `method?query`. A `$result[key][FIELD]` value chains results."""
    return f"{method}?{build_query(params)}"
