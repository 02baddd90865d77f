"""@mentions of employees in text: chat messages (chats.py) and comments on a client's card.

A mention is «@» followed by an employee's full name or login, the handle ending where the word
does. Pure functions over rows the store gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_GOES_ON = re.compile(r"\w|[.-]\w")  # the handle is part of a longer word (a full stop ends it)


def mentioned(text: str, people: Iterable[Mapping[str, Any]]) -> list[int]:
    """Ids of `people` (id, name, login) the text @mentions by full name or login, in no order.

    A longer name wins over its prefix only in that both match: «@Ева Сотрудник» and «@Ева» each
    need the whole word after them to end, so «@Евгений» is not «@Ева».
    """
    folded = text.casefold()
    found: set[int] = set()
    for person in people:
        for handle in (person.get("name") or "", person.get("login") or ""):
            if handle and _says(folded, "@" + handle.casefold()):
                found.add(int(person["id"]))
    return sorted(found)


def _says(text: str, handle: str) -> bool:
    start = text.find(handle)
    while start >= 0:
        end = start + len(handle)
        if not _GOES_ON.match(text, end):
            return True
        start = text.find(handle, start + 1)
    return False
