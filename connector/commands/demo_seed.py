"""The demo's people: employees 201..208 with logins, fresh passwords and tokens, and a few clients."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapters.builtin.passwords import generate, hash_password
from adapters.builtin.store import Store
from connector.commands.demo_history import seed_history

EMPLOYEES = (
    ("201", "Анна Администратор", "admin"),
    ("202", "Михаил Менеджер", "manager"),
    ("203", "Елена Продажи", "employee"),
    ("204", "Сергей Продажи", "employee"),
    ("205", "Ольга Поддержка", "employee"),
    ("206", "Дмитрий Поддержка", "employee"),
    ("207", "Ирина Бухгалтерия", "employee"),
    ("208", "Павел Склад", "employee"),
)
LOGINS = {"201": "anna", "202": "mikhail", "203": "elena", "204": "sergey", "205": "olga", "206": "dmitry",
          "207": "irina", "208": "pavel"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Credential:
    """How a demo employee signs in (login and password, printed once) and their API token."""

    login: str
    password: str
    token: str


# name, phone, responsible extension, company (name, INN) or None. The captures call from these
# numbers and from some others, which stay unknown so their contact cards appear as unsorted.
CLIENTS = (
    ("Иван Петров", "+79161234567", "201", ("ООО «Ромашка»", "7701234567")),
    ("Мария Иванова", "+79267770011", "202", None),
    ("ИП Кузнецов", "+79035550101", "205", ("ИП Кузнецов А. В.", "771234567890")),
)


async def seed(db_path: Path) -> dict[str, Credential]:
    """Fill a fresh demo database; extension → login, password and API token of each employee."""
    store = await Store.open(db_path)
    try:
        tokens: dict[str, Credential] = {}
        ids: dict[str, int] = {}
        for ext, name, role in EMPLOYEES:
            row, token = await store.employees.create(name, ext, role)
            password = generate()
            await store.accounts.set_login(row["id"], LOGINS[ext])
            await store.accounts.set_password_hash(row["id"], await hash_password(password))
            tokens[ext] = Credential(LOGINS[ext], password, token)
            ids[ext] = row["id"]
        pipeline = (await store.deals.pipelines())[0]
        for name, phone, ext, company in CLIENTS:
            company_id = await store.companies.create(*company) if company else None
            client_id = await store.clients.create(
                name, [phone], company_id=company_id, responsible_id=ids[ext]
            )
            await store.deals.create(
                {"title": f"Поставка для {name}", "pipeline_id": pipeline["id"], "client_id": client_id,
                 "value": 120000, "currency": "RUB", "responsible_id": ids[ext]}
            )  # fmt: skip
            await store.notes.add_comment(client_id, "Клиент из демонстрационных данных", ids[ext])
        await seed_history(store, ids)
        return tokens
    finally:
        await store.close()
