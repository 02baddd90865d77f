"""Weeks of believable history for the demo, so that every page and report has something to show.

Six weeks of calls on the two demo lines (answered, missed, outgoing) between the demo's sales
employees and a few dozen clients and companies; deals moved through the pipeline stage by
stage (each move journalled with who and when), some won, some lost with a reason; tasks
(overdue, today, later), reminders, comments, and an ad campaign on the Яндекс.Директ line.
Deterministic (a fixed random seed) so two demos look alike.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from adapters.builtin.board import set_settings
from adapters.builtin.campaigns import Campaigns, ensure_schema
from adapters.builtin.db import iso
from adapters.builtin.store import Store
from connector.calls.model import Call, Direction, Disposition, Leg

DAYS = 42
LINES = (("74951110001", "Сайт"), ("74951110002", "Яндекс.Директ"))
SALES = ("202", "203", "204")
MEN = ("Алексей", "Сергей", "Дмитрий", "Андрей", "Павел", "Николай", "Виктор", "Максим")
WOMEN = ("Ирина", "Наталья", "Ольга", "Татьяна", "Юлия", "Екатерина", "Анна", "Светлана")
LAST = ("Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Козлов", "Новиков", "Морозов", "Волков",
        "Алексеев", "Зайцев", "Павлов", "Егоров", "Орлов", "Никитин", "Фёдоров")  # fmt: skip
TIMEZONE = "Europe/Moscow"  # the demo company's; the calls below fall in its working day
COMPANIES = (("ООО «Вектор»", "7704123456"), ("АО «Северный порт»", "7810654321"),
             ("ООО «Техснаб»", "5402111222"), ("ИП Белов С. А.", "500100732259"),
             ("ООО «Лето»", "6671000111"))  # fmt: skip
PRODUCTS = ("Поставка бумаги", "Картриджи", "Годовой сервис", "Офисная мебель", "Сервер в аренду",
            "Монтаж СКС", "Лицензии 1С", "IP-телефоны")  # fmt: skip
LOST_REASONS = ("Дорого", "Выбрали конкурента", "Не вышли на связь", "Проект отложен")
COMMENTS = ("Просит КП до пятницы", "Интересует доставка в регион", "Перезвонить после обеда",
            "Согласовывают с директором", "Нужна отсрочка платежа")  # fmt: skip


async def seed_history(store: Store, employees: dict[str, int], now: datetime | None = None) -> None:
    """Fill `store` (already holding the demo employees, by extension → id) with six weeks of work."""
    rng = random.Random(18)
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    await ensure_schema(store.db, LINES)
    await set_settings(store.db, {"timezone": TIMEZONE})
    clients = await _clients(store, employees, rng)
    await _calls(store, clients, rng, moment)
    await _deals(store, clients, employees, rng, moment)
    await _work(store, clients, employees, rng, moment)
    start = (moment - timedelta(days=35)).date()
    await Campaigns(store.db).create(
        {"name": "Директ: осенняя распродажа", "starts_on": start.isoformat(), "budget": 60000,
         "numbers": ["+74951110002"]}
    )  # fmt: skip
    await Campaigns(store.db).create(
        {"name": "Сайт: SEO", "starts_on": (start - timedelta(days=30)).isoformat(), "budget": 25000,
         "ends_on": (date.fromordinal(moment.date().toordinal()) - timedelta(days=1)).isoformat(),
         "numbers": ["+74951110001"]}
    )  # fmt: skip


async def _clients(store: Store, employees: dict[str, int], rng: random.Random) -> list[dict[str, Any]]:
    companies = [await store.companies.create(name, inn) for name, inn in COMPANIES]
    out = []
    for n in range(36):
        woman = rng.random() < 0.5
        name = f"{rng.choice(WOMEN if woman else MEN)} {rng.choice(LAST)}{'а' if woman else ''}"
        phone = f"+79{rng.randrange(10**8, 10**9)}"
        ext = rng.choice(SALES)
        company = rng.choice(companies) if n % 3 == 0 else None
        email = f"client{n}@example.ru" if n % 2 else ""
        client_id = await store.clients.create(
            name, [phone], company_id=company, responsible_id=employees[ext], email=email
        )
        out.append({"id": client_id, "name": name, "phone": phone, "ext": ext})
    return out


async def _calls(store: Store, clients: list[dict[str, Any]], rng: random.Random, now: datetime) -> None:
    count = 0
    for day in range(DAYS, 0, -1):
        when = now - timedelta(days=day)
        if when.weekday() >= 5:
            continue
        for _ in range(rng.randrange(6, 16)):
            started = when.replace(
                hour=rng.randrange(6, 15), minute=rng.randrange(60), second=rng.randrange(60)
            )
            client = rng.choice(clients) if rng.random() < 0.75 else None
            phone = client["phone"] if client else f"+79{rng.randrange(10**8, 10**9)}"
            ext = client["ext"] if client and rng.random() < 0.7 else rng.choice(SALES)
            count += 1
            await store.calls.save(_call(f"hist-{count}", phone, ext, started, rng))


def _call(call_id: str, phone: str, ext: str, started: datetime, rng: random.Random) -> Call:
    outbound = rng.random() < 0.3
    answered = (outbound and rng.random() < 0.8) or (not outbound and rng.random() < 0.8)
    answered_at = started + timedelta(seconds=rng.randrange(3, 25)) if answered else None
    ended = (answered_at or started) + timedelta(
        seconds=rng.randrange(40, 600) if answered else rng.randrange(10, 40)
    )
    return Call(
        id=call_id,
        linkedids=(call_id,),
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        client=phone,
        did=None if outbound else rng.choice(LINES)[0],
        started_at=started,
        answered_at=answered_at,
        ended_at=ended,
        disposition=Disposition.ANSWERED if answered else Disposition.MISSED,
        rang=(ext,),
        answered_by=ext if answered else None,
        legs=(Leg(ext, answered_at, ended),) if answered_at else (),
    )


async def _deals(
    store: Store, clients: list[dict[str, Any]], employees: dict[str, int], rng: random.Random, now: datetime
) -> None:
    pipeline = (await store.deals.pipelines())[0]
    stages = pipeline["stages"]
    for n, client in enumerate(rng.sample(clients, 28)):
        opened = now - timedelta(days=rng.randrange(2, DAYS), hours=rng.randrange(8))
        who = employees[client["ext"]]
        reached = rng.randrange(len(stages))
        outcome = "won" if n % 4 == 0 else "lost" if n % 4 == 1 else "open"
        value = rng.randrange(15, 450) * 1000
        title = f"{rng.choice(PRODUCTS)} — {client['name'].split()[1]}"
        history, moment = [], opened
        for stage in stages[1 : reached + 1]:
            moment = min(
                now - timedelta(hours=1), moment + timedelta(days=rng.randrange(1, 5), hours=rng.randrange(6))
            )
            history.append((iso(moment), f"Сделка «{title}»: {stages[stages.index(stage) - 1]} → {stage}"))
        closed = None
        reason = ""
        if outcome != "open":
            moment = min(now - timedelta(minutes=30), moment + timedelta(days=rng.randrange(1, 4)))
            closed = iso(moment)
            reason = rng.choice(LOST_REASONS) if outcome == "lost" else ""
            word = "закрыл успешно" if outcome == "won" else "закрыл с отказом"
            history.append((closed, f"Сделку «{title}» {word}" + (f". Причина: {reason}" if reason else "")))
        async with store.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO deals (client_id, pipeline_id, stage, title, value, status, responsible_id,"
                " created_at, closed_at, stage_since, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (client["id"], pipeline["id"], stages[reached], title, value, outcome, who, iso(opened),
                 closed, history[-1][0] if history else iso(opened), reason),
            )  # fmt: skip
            deal_id = int(cursor.lastrowid or 0)
            await conn.executemany(
                "INSERT INTO journal (at, kind, client_id, deal_id, employee_id, text)"
                " VALUES (?, 'deal', ?, ?, ?, ?)",
                [(at, client["id"], deal_id, who, text) for at, text in history],
            )


async def _work(
    store: Store, clients: list[dict[str, Any]], employees: dict[str, int], rng: random.Random, now: datetime
) -> None:
    for n, client in enumerate(rng.sample(clients, 18)):
        who = employees[client["ext"]]
        deadline = now + timedelta(days=(n % 6) - 2, hours=rng.randrange(1, 8))
        await store.notes.add_task(
            {"title": rng.choice(("Отправить КП", "Перезвонить", "Выставить счёт", "Назначить встречу")),
             "client_id": client["id"], "assignee_id": who, "deadline": iso(deadline)},
            who,
        )  # fmt: skip
        text = rng.choice(COMMENTS)
        await store.db.write(
            "INSERT INTO comments (client_id, author_id, text, created_at) VALUES (?, ?, ?, ?)",
            (client["id"], who, text, iso(now - timedelta(days=rng.randrange(1, DAYS)))),
        )
    for client in clients[:4]:
        await store.notes.add_reminder(
            client["id"], employees[client["ext"]], iso(now + timedelta(hours=rng.randrange(1, 30))),
            f"Уточнить решение: {client['name']}",
        )  # fmt: skip
