"""Client fields in SMS and letter texts: `{имя}`, `{компания}`, `{имя|клиент}`, custom fields by label.

One renderer for SMS mailings and mail templates. A placeholder is `{поле}` or `{{поле}}` (the
letters' older spelling), the name in any case and with any spaces around it; `{поле|слово}`
gives the word for a client who has no value, otherwise an empty value is an empty string. The
built-in fields have Russian and English names (`{имя}` = `{name}` = `{клиент}`); an admin's
custom client field is named by its label (`{Город}`). An unknown name is refused before
anything is queued (`TemplateError`, in Russian, naming every unknown one).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from adapters.builtin.custom_fields import CustomFields
from adapters.builtin.db import Database

# The built-in fields: the name shown in the form, what it is, and the names it also answers to.
BUILTIN: Sequence[tuple[str, str, tuple[str, ...]]] = (
    ("имя", "имя клиента", ("name", "клиент")),
    ("компания", "компания клиента", ("company",)),
    ("ответственный", "ответственный менеджер", ("responsible", "manager")),
    ("телефон", "телефон клиента (для СМС — номер, на который оно идёт)", ("phone",)),
    ("email", "адрес почты клиента", ("почта", "e-mail")),
    ("сотрудник", "кто пишет (автор рассылки или письма)", ("employee",)),
)
_ALIASES = {alias: key for key, _, aliases in BUILTIN for alias in (key, *aliases)}
_PLACEHOLDER = re.compile(r"\{\{([^{}|]*)(?:\|([^{}]*))?\}\}|\{([^{}|]*)(?:\|([^{}]*))?\}")
CHUNK = 500  # client ids per query (well under every database's parameter limit)


class TemplateError(ValueError):
    """The text names fields no client has; the message lists them, in Russian."""


def _key(name: str) -> str:
    return " ".join(name.split()).lower()


@dataclass(frozen=True, slots=True)
class Field:
    """A field a template may use: its name and what it holds."""

    name: str
    description: str


async def available(custom: CustomFields) -> list[Field]:
    """The built-in fields, then the admin's shown client fields by label (for the forms)."""
    fields = [Field(key, description) for key, description, _ in BUILTIN]
    for row in await custom.definitions("client", shown_only=True):
        if _key(row["label"]) not in _ALIASES:  # a custom «Компания» cannot shadow the built-in one
            fields.append(Field(str(row["label"]), "своё поле клиента"))
    return fields


def names_of(fields: Iterable[Field]) -> frozenset[str]:
    """Every name a template may use for these fields (built-in aliases included)."""
    return frozenset({*_ALIASES, *(_key(f.name) for f in fields)})


def unknown(text: str, known: Iterable[str]) -> list[str]:
    """Placeholders in `text` that name no field, as written, in order of first use."""
    names, found = frozenset(known), dict[str, None]()
    for match in _PLACEHOLDER.finditer(text):
        name = (match.group(1) if match.group(1) is not None else match.group(3)).strip()
        if _key(name) not in names:
            found[name] = None
    return list(found)


def check(text: str, known: Iterable[str]) -> None:
    """TemplateError when `text` names a field that does not exist."""
    wrong = unknown(text, known)
    if wrong:
        listed = ", ".join("{" + w + "}" for w in wrong)
        raise TemplateError(f"неизвестные поля в тексте: {listed}. Есть поля: {_hint(known)}")


def _hint(known: Iterable[str]) -> str:
    shown = [key for key, _, _ in BUILTIN] + sorted(k for k in known if k not in _ALIASES)
    return ", ".join("{" + k + "}" for k in shown)


def render(text: str, values: Mapping[str, str]) -> str:
    """`text` with each placeholder replaced by the value (keys lower-case), its default or ''."""

    def fill(match: re.Match[str]) -> str:
        double = match.group(1) is not None
        name = match.group(1) if double else match.group(3)
        default = match.group(2) if double else match.group(4)
        value = values.get(_ALIASES.get(_key(name), _key(name)), "")
        return value or (default or "").strip()

    return _PLACEHOLDER.sub(fill, text)


def uses_fields(text: str) -> bool:
    """Whether `text` has any placeholder (a text without one is the same for everyone)."""
    return _PLACEHOLDER.search(text) is not None


async def client_values(
    db: Database, custom: CustomFields, client_ids: Sequence[int], *, employee: str = ""
) -> dict[int, dict[str, str]]:
    """client id → field key → value, for the built-in fields and the shown custom fields."""
    fields = await custom.definitions("client", shown_only=True)
    out: dict[int, dict[str, str]] = {}
    for start in range(0, len(client_ids), CHUNK):
        chunk = list(client_ids[start : start + CHUNK])
        marks = ", ".join("?" * len(chunk))
        rows = await db.fetch_all(
            "SELECT c.id, c.name, c.email, co.name AS company, e.name AS responsible,"
            " (SELECT MIN(p.phone) FROM phones p WHERE p.client_id = c.id) AS phone FROM clients c"
            " LEFT JOIN companies co ON co.id = c.company_id LEFT JOIN employees e ON e.id = c.responsible_id"
            f" WHERE c.id IN ({marks})",
            chunk,
        )
        extra = await custom.values_of([f["id"] for f in fields], chunk)
        for row in rows:
            own = extra.get(int(row["id"]), {})
            out[int(row["id"])] = {
                **{_key(f["label"]): own.get(f["id"], "") for f in fields},
                "имя": row["name"] or "",
                "компания": row["company"] or "",
                "ответственный": row["responsible"] or "",
                "телефон": row["phone"] or "",
                "email": row["email"] or "",
                "сотрудник": employee,
            }
    return out
