"""Turn plain YAML data into frozen dataclasses, checking every key and type once.

The rules live in the dataclasses themselves (field types, defaults, `__post_init__` checks);
this module only walks them. Errors are `ConfigError`s naming the key path, the YAML line and,
for unknown keys, the closest known key ("did you mean ...?").
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from connector.errors import ConfigError

T = TypeVar("T")


class Secret:
    """A string that never shows itself in reprs, logs or `check-config` output."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """The secret itself, for the one place that must send it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclasses.dataclass(frozen=True, slots=True)
class Located:
    """Where each key path of a YAML document was written (1-based lines)."""

    path: str
    lines: Mapping[str, int]

    def line(self, key: str) -> int | None:
        """The line of `key`, or of its nearest parent that has one."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rpartition(".")[0].rpartition("[")[0] if key.endswith("]") else key.rpartition(".")[0]
        return None

    def error(self, key: str, message: str) -> ConfigError:
        """A `ConfigError` for `key` with its file and line."""
        return ConfigError(message, path=self.path, key=key, line=self.line(key))


def build(cls: type[T], data: Any, where: Located, key: str = "") -> T:
    """Build the frozen dataclass `cls` from `data` (a mapping), validating it against `cls`."""
    value = _convert(cls, data, where, key)
    return typing.cast(T, value)


def _convert(hint: Any, data: Any, where: Located, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _convert_union(hint, data, where, key)
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if data not in allowed:
            raise where.error(key, f"must be one of {', '.join(map(repr, allowed))}, got {data!r}")
        return data
    if origin is tuple:
        return _convert_tuple(hint, data, where, key)
    if origin in (dict, Mapping) or hint is dict:
        return _convert_mapping(hint, data, where, key)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _convert_dataclass(hint, data, where, key)
    return _convert_scalar(hint, data, where, key)


def _convert_union(hint: Any, data: Any, where: Located, key: str) -> Any:
    args = typing.get_args(hint)
    if data is None:
        if type(None) in args:
            return None
        raise where.error(key, "must not be empty")
    last: ConfigError | None = None
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _convert(arg, data, where, key)
        except ConfigError as exc:
            last = exc
    assert last is not None
    raise last


def _convert_tuple(hint: Any, data: Any, where: Located, key: str) -> tuple[Any, ...]:
    args = typing.get_args(hint)
    if not isinstance(data, list):
        # Never a one-item list made up: `number_patterns: 5` must not quietly become ['5'].
        example = f" (a one-item list is written [{data!r}])" if isinstance(data, str | int | float) else ""
        raise where.error(key, f"must be a list, got {_kind(data)}{example}")
    item = args[0] if args else Any
    return tuple(_convert(item, value, where, f"{key}[{i}]") for i, value in enumerate(data))


def _convert_mapping(hint: Any, data: Any, where: Located, key: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise where.error(key, f"must be a mapping, got {_kind(data)}")
    args = typing.get_args(hint)
    item = args[1] if len(args) == 2 else Any
    return {str(k): _convert(item, v, where, _join(key, str(k))) for k, v in data.items()}


def _convert_dataclass(cls: type[Any], data: Any, where: Located, key: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise where.error(key, f"must be a mapping, got {_kind(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for name in data:
        if name not in fields:
            raise where.error(_join(key, str(name)), f"unknown key{_hint(str(name), fields)}")
    values: dict[str, Any] = {}
    for name, field in fields.items():
        child = _join(key, name)
        if name in data:
            values[name] = _convert(hints[name], data[name], where, child)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise where.error(child, "is required")
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        raise where.error(_blamed(key, str(exc), data) or key or cls.__name__, str(exc)) from exc


def _blamed(key: str, message: str, data: Mapping[str, Any]) -> str:
    """The key a check's message names first ("port 0 is not ..."), so the line is the value's own."""
    first = message.split(" ", 1)[0].rstrip(":,")
    return _join(key, first) if first in data else ""


def _convert_scalar(hint: Any, data: Any, where: Located, key: str) -> Any:
    if hint is Any:
        return data
    if data is None:
        raise where.error(key, "must not be empty")
    if hint in _SCALARS:
        converted = _SCALARS[hint](data)
        if converted is _INVALID:
            raise where.error(key, f"must be {_SCALAR_NAMES[hint]}, got {_kind(data)}")
        return converted
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in hint)
            raise where.error(key, f"must be one of {allowed}, got {data!r}") from None
    raise where.error(key, f"has a type the loader does not know: {hint!r}")


_INVALID = object()


def _to_bool(data: Any) -> Any:
    return data if isinstance(data, bool) else _INVALID


def _to_int(data: Any) -> Any:
    return data if isinstance(data, int) and not isinstance(data, bool) else _INVALID


def _to_float(data: Any) -> Any:
    return float(data) if isinstance(data, int | float) and not isinstance(data, bool) else _INVALID


def _textual(make: Any) -> Any:
    def convert(data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            return _INVALID
        return make(str(data))

    return convert


_SCALARS: dict[Any, Any] = {
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _textual(str),
    Secret: _textual(Secret),
    Path: _textual(Path),
}
_SCALAR_NAMES: dict[Any, str] = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "a string",
    Secret: "a string",
    Path: "a path",
}


def _hint(name: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known keys: {', '.join(sorted(known))})"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _kind(data: Any) -> str:
    if isinstance(data, dict):
        return "a mapping"
    if isinstance(data, list):
        return "a list"
    return repr(data)


def to_plain(value: Any) -> Any:
    """Settings back to plain data with secrets masked (for `check-config`)."""
    if isinstance(value, Secret):
        return "***" if value else ""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value
