"""The CRM's calls API: filters, pagination, quick actions, bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from adapters.builtin.campaigns import ensure_schema
from connector.calls.model import Direction
from tests.unit.builtin.helpers import T0, CrmServer, crm_server, make_call


async def _get(http: aiohttp.ClientSession, server: CrmServer, query: str, ext: str = "201") -> Any:
    async with http.get(f"{server.url}/api/crm/calls?{query}", headers=server.headers(ext)) as r:
        return r.status, await r.json()


async def _post(
    http: aiohttp.ClientSession, server: CrmServer, path: str, body: Any, ext: str = "202"
) -> Any:
    async with http.post(f"{server.url}/api/crm{path}", json=body, headers=server.headers(ext)) as r:
        return r.status, r.content_type, await r.json()


async def _seed(server: CrmServer) -> None:
    await server.adapter.log_call(make_call("30.1", "+79160000001", did="74951110001"))
    await server.adapter.log_call(
        make_call(
            "30.2",
            "+79160000002",
            answered_by=None,
            rang=("203",),
            did="74951110002",
            start=T0 + timedelta(hours=1),
        )
    )
    await server.adapter.log_call(
        make_call(
            "30.3", "+79160000003", direction=Direction.OUTBOUND, did=None, start=T0 + timedelta(days=1)
        )
    )


async def test_filter_by_type_missed(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await _seed(server)
    _, data = await _get(http, server, "type=missed")
    assert [c["id"] for c in data["items"]] == ["30.2"]


async def test_filter_by_did(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await _seed(server)
    _, data = await _get(http, server, "did=74951110001")
    assert [c["id"] for c in data["items"]] == ["30.1"]


async def test_filter_by_employee(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await _seed(server)
    _, data = await _get(http, server, "employee=203")
    assert [c["id"] for c in data["items"]] == ["30.2"]


async def test_filter_by_date_range(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await _seed(server)
    _, data = await _get(http, server, "from=2026-11-21&to=2026-11-22")
    assert [c["id"] for c in data["items"]] == ["30.3"]


async def test_pages_split_the_list(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await _seed(server)
    _, data = await _get(http, server, "per_page=2&page=2")
    assert (data["total"], len(data["items"]), data["items"][0]["id"]) == (3, 1, "30.1")


async def test_a_bad_filter_value_is_a_422_problem(server: CrmServer, http: aiohttp.ClientSession) -> None:
    status, data = await _get(http, server, "type=weird")
    assert status == 422 and data["errors"] == [{"field": "type", "message": data["errors"][0]["message"]}]


async def test_a_reversed_date_range_is_refused(server: CrmServer, http: aiohttp.ClientSession) -> None:
    status, data = await _get(http, server, "from=2026-11-22&to=2026-11-21")
    assert status == 422 and data["errors"][0]["field"] == "to"


async def test_a_call_carries_a_signed_recording_link(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await server.adapter.log_call(make_call("31.1", recording=str(server.links.root / "2026/a.mp3")))
    _, data = await _get(http, server, "")
    assert data["items"][0]["recording_url"].startswith("/recordings/2026/a.mp3?exp=")


async def test_comment_on_a_call_lands_in_the_clients_feed(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("32.1"))
    status, _, comment = await _post(http, server, "/calls/32.1/comment", {"text": "просил КП"})
    assert status == 201
    async with http.get(
        f"{server.url}/api/crm/clients/{comment['client_id']}/feed?kind=comment",
        headers=server.headers("202"),
    ) as r:
        assert [i["text"] for i in (await r.json())["items"]] == ["просил КП"]


async def test_create_client_from_a_call_turns_the_contact_card_into_a_client(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("33.1", "+79160003333"))
    status, _, client = await _post(http, server, "/calls/33.1/client", {"name": "Алиса"})
    assert status == 201 and (client["kind"], client["name"], client["responsible_extension"]) == (
        "client", "Алиса", "202",
    )  # fmt: skip


async def test_add_a_calls_number_to_an_existing_client(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    client_id = await server.store.clients.create("Борис", ["+79160004444"])
    await server.adapter.log_call(make_call("34.1", "+79160005555"))
    status, _, client = await _post(http, server, "/calls/34.1/attach", {"client_id": client_id})
    assert status == 200 and client["phones"] == ["+79160004444", "+79160005555"]


async def test_create_a_task_from_a_call(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await server.adapter.log_call(make_call("35.1"))
    status, _, task = await _post(
        http, server, "/calls/35.1/task", {"title": "Перезвонить", "deadline": "2026-12-01"}
    )
    assert status == 201 and (task["call_id"], task["deadline"]) == ("35.1", "2026-12-01T00:00:00Z")


async def test_create_a_deal_from_a_call_takes_it_out_of_appeals(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("36.1", "+79160006666"))
    status, _, deal = await _post(http, server, "/calls/36.1/deal", {"value": 1500})
    assert status == 201 and deal["title"] == "+79160006666"
    _, data = await _get(http, server, "appeals=true")
    assert data["items"] == []


async def test_marking_spam_hides_the_number_from_the_spam_free_list(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("37.1", "+79160007777"))
    status, _, _ = await _post(http, server, "/calls/37.1/spam", {})
    _, data = await _get(http, server, "spam=false")
    assert status == 200 and data["items"] == []


async def test_totals_with_and_without_spam_add_up_under_other_filters(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await _seed(server)  # 30.1 answered, 30.2 missed, 30.3 outbound
    await server.adapter.log_call(make_call("37.2", "+79160007777", answered_by=None, rang=("203",)))
    await server.adapter.log_call(make_call("37.3", "+79160007777"))
    await server.store.calls.mark_spam("+79160007777", None)
    totals = {}
    for query in (
        "",
        "spam=false",
        "spam=true",
        "type=missed",
        "type=missed&spam=false",
        "type=missed&spam=true",
    ):
        _, data = await _get(http, server, query)
        totals[query] = (data["total"], sorted(c["id"] for c in data["items"]))
    assert totals == {
        "": (5, ["30.1", "30.2", "30.3", "37.2", "37.3"]),
        "spam=false": (3, ["30.1", "30.2", "30.3"]),
        "spam=true": (2, ["37.2", "37.3"]),
        "type=missed": (2, ["30.2", "37.2"]),
        "type=missed&spam=false": (1, ["30.2"]),
        "type=missed&spam=true": (1, ["37.2"]),
    }


async def test_call_back_without_call_control_is_501(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await server.adapter.log_call(make_call("38.1"))
    status, content_type, _ = await _post(http, server, "/calls/38.1/callback", {})
    assert status == 501 and content_type == "application/problem+json"


async def test_call_back_from_another_extension_is_forbidden(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("39.1"))
    status, _, _ = await _post(http, server, "/calls/39.1/callback", {"extension": "203"})
    assert status == 403


async def test_invalid_task_input_is_refused_and_nothing_is_written(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("40.1"))
    status, content_type, problem = await _post(
        http, server, "/calls/40.1/task", {"title": "", "deadline": "tomorrow", "color": "red"}
    )
    assert (status, content_type) == (422, "application/problem+json")
    assert {e["field"] for e in problem["errors"]} == {"title", "deadline", "color"}
    assert await server.store.db.scalar("SELECT COUNT(*) FROM tasks") == 0


async def test_a_body_that_is_not_json_is_a_400_problem(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("41.1"))
    headers = {**server.headers("202"), "Content-Type": "application/json"}
    async with http.post(f"{server.url}/api/crm/calls/41.1/comment", data=b"{oops", headers=headers) as r:
        assert r.status == 400 and r.content_type == "application/problem+json"
    assert await server.store.db.scalar("SELECT COUNT(*) FROM comments") == 0


class RecordingCallControl:
    """A call-control fake of the same interface the daemon's service has: remembers requests."""

    def __init__(self) -> None:
        self.placed: list[tuple[str, str]] = []

    async def originate(self, extension: str, number: str) -> str:
        self.placed.append((extension, number))
        return f"originate-{len(self.placed)}"


async def test_call_back_rings_the_employee_then_the_number(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    control = RecordingCallControl()
    async with crm_server(tmp_path, call_control=control) as server:
        await server.adapter.log_call(make_call("42.1", "+79160004242"))
        status, _, body = await _post(http, server, "/calls/42.1/callback", {})
    assert status == 202 and body["result"] == "originate-1"
    assert control.placed == [("202", "+79160004242")]


class GuardedCallControl:
    """A call-control fake with the daemon's signature: it is told who asks, and refuses others."""

    def __init__(self) -> None:
        self.callers: list[str] = []

    async def originate(self, extension: str, number: str, *, by: Any = None) -> str:
        from connector.errors import NotPermittedError

        if by is None or not by.may_act_for(extension):
            raise NotPermittedError(f"{extension} is not yours")
        self.callers.append(by.name)
        return "queued"


async def test_call_back_tells_call_control_who_asks(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    control = GuardedCallControl()
    async with crm_server(tmp_path, call_control=control) as server:
        await server.adapter.log_call(make_call("43.1", "+79160004343"))
        status, _, _ = await _post(http, server, "/calls/43.1/callback", {})
    assert status == 202 and control.callers == ["Егор Сотрудник"]


async def _csv(
    http: aiohttp.ClientSession, server: CrmServer, query: str, ext: str
) -> tuple[int, list[list[str]]]:
    import csv
    import io

    async with http.get(f"{server.url}/api/crm/calls.csv?{query}", headers=server.headers(ext)) as r:
        text = (await r.read()).decode("utf-8-sig")
        return r.status, list(csv.reader(io.StringIO(text), delimiter=";"))


async def test_the_calls_list_exports_as_a_spreadsheet_with_its_filters_and_scope(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await _seed(server)
    await ensure_schema(server.store.db, [("74951110001", "Сайт")])  # a line named in the settings
    status, rows = await _csv(http, server, "spam=false", "201")
    header, *calls = rows
    assert (status, header[:3], [c[-1] for c in calls]) == (
        200,
        ["Дата и время", "Тип", "Номер"],
        ["30.3", "30.2", "30.1"],
    )
    first = dict(zip(header, calls[-1], strict=True))
    shown = [first[k] for k in ("Тип", "Номер", "Линия", "Сотрудник", "Итог", "Разговор, с")]
    assert shown == ["входящий", "+79160000001", "Сайт", "Егор Сотрудник (202)", "отвечен", "60"]
    _, missed = await _csv(http, server, "type=missed", "201")
    _, own = await _csv(http, server, "", "203")  # an employee: only the calls that rang them
    assert ([c[-1] for c in missed[1:]], [c[-1] for c in own[1:]]) == (["30.2"], ["30.2"])
