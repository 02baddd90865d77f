"""The one encoder for values that go into an AMI action, so no caller can add headers or variables.

An AMI action is `Name: value` lines ended by a blank line: a CR or LF inside a value starts a
header of the attacker's choosing (or ends the action early), and a NUL cuts it in Asterisk's C
strings. Originate's `Variable:` header is further split by Asterisk (manager.c
`astman_get_variables_order` → `AST_STANDARD_APP_ARGS`) on commas, honouring double quotes,
backslash escapes and parentheses: `CALL_ID=abc,OUTBOUND_ROUTE=evil` would set two variables.
So header values refuse line breaks everywhere, and variable names and values also refuse the
characters that split or regroup the list. Refusals are `UnsafeValueError`, a `NotPermittedError`:
whoever asked gets a 4xx and nothing reaches Asterisk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from connector.errors import UnsafeValueError

MAX_VALUE = 1024  # characters; Asterisk's manager reads lines of at most 1025 bytes
_LINE_BREAKING = re.compile(r"[\r\n\x00]")
_LIST_SPLITTING = re.compile(r"[,\"\\()\r\n\x00]")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}")


def header(name: str, value: str) -> str:
    """`value` unchanged when it is safe as the value of header `name`, else `UnsafeValueError`."""
    if _LINE_BREAKING.search(value):
        raise UnsafeValueError(f"{name} must not contain a line break or NUL")
    if len(value) > MAX_VALUE:
        raise UnsafeValueError(f"{name} is longer than {MAX_VALUE} characters")
    return value


def variables(pairs: Mapping[str, str]) -> str:
    """The `Variable:` header value for `pairs` (name=value, comma separated), checked one by one."""
    parts = []
    for name, value in pairs.items():
        if not _VARIABLE_NAME.fullmatch(name):
            raise UnsafeValueError(f"channel variable name {name!r} is not a plain identifier")
        found = _LIST_SPLITTING.search(value)
        if found:
            raise UnsafeValueError(
                f"channel variable {name} must not contain {found.group()!r} (Asterisk splits on it)"
            )
        parts.append(f"{name}={value}")
    return header("Variable", ",".join(parts))


def action(headers: Mapping[str, str]) -> dict[str, str]:
    """Every header of an action checked (names too: they are written the same way)."""
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name):
            raise UnsafeValueError(f"AMI header name {name!r} is not a plain word")
        checked[name] = header(name, value)
    return checked
