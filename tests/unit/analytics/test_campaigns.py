"""Ad campaigns: the cost of a new lead, an active campaign ending today, end, edit, delete."""

from __future__ import annotations

from datetime import date
from typing import Any

from adapters.builtin.campaigns import lead_cost, spend_in
from adapters.builtin.periods import Period
from tests.unit.analytics.conftest import Server
from tests.unit.analytics.dataset import MSK, SITE, YANDEX, msk

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 20), MSK)


def by_name(body: dict[str, Any]) -> dict[str, Any]:
    return {c["name"]: c for c in body["in_period"]}


def test_spend_is_the_day_cost_times_the_campaign_days_inside_the_period() -> None:
    spend = spend_in(20000, date(2026, 10, 22), date(2026, 11, 10), NOVEMBER)
    assert (spend.campaign_days, spend.days_in_period, spend.spend) == (20, 10, 10000.0)


def test_a_campaign_without_a_budget_has_no_spend() -> None:
    assert spend_in(None, date(2026, 11, 1), date(2026, 11, 5), NOVEMBER).spend is None


def test_the_lead_cost_is_undefined_without_callers() -> None:
    assert lead_cost(1000.0, 0) is None


async def test_the_lead_cost_divides_spend_by_unique_callers_on_the_campaign_numbers(server: Server) -> None:
    campaigns = by_name(await server.get("/api/crm/campaigns"))
    autumn = campaigns["Осень"]
    assert (autumn["spend"], autumn["unique_callers"], autumn["lead_cost"]) == (10000.0, 5, 2000.0)
    direct = campaigns["Директ"]
    assert (direct["spend"], direct["unique_callers"], direct["lead_cost"]) == (5000.0, 3, 1666.67)


async def test_campaigns_outside_the_period_are_left_out(server: Server) -> None:
    assert set(by_name(await server.get("/api/crm/campaigns"))) == {"Осень", "Директ", "Без бюджета"}


async def test_a_campaign_on_two_numbers_counts_a_caller_of_both_once(server: Server) -> None:
    no_budget = by_name(await server.get("/api/crm/campaigns"))["Без бюджета"]
    assert (no_budget["unique_callers"], no_budget["spend"], no_budget["lead_cost"]) == (7, None, None)


async def test_an_active_campaign_ends_today(server: Server) -> None:
    window = {"from": "2026-11-11", "to": "2026-11-15"}
    direct = by_name(await server.get("/api/crm/campaigns", **window))["Директ"]
    assert (direct["campaign_days"], direct["spend"]) == (10, 2500.0)  # 5000 / 10 days × 5
    server.clock.now = msk(11, 30, 12)
    direct = by_name(await server.get("/api/crm/campaigns", **window))["Директ"]
    assert (direct["campaign_days"], direct["spend"]) == (20, 1250.0)  # 5000 / 20 days × 5


async def test_a_new_campaign_is_created_on_tracking_numbers(empty: Server) -> None:
    body = {"name": "Зима", "numbers": [SITE, YANDEX], "starts_on": "2026-11-01", "budget": 3000}
    async with empty.http.post(empty.url + "/api/crm/campaigns", json=body, headers=empty.auth("201")) as r:
        assert r.status == 201
        created = await r.json()
    assert (created["numbers"], created["ends_on"], created["budget"]) == ([SITE, YANDEX], None, 3000.0)


async def test_a_campaign_on_an_unknown_number_is_refused(empty: Server) -> None:
    body = {"name": "Зима", "numbers": ["+74950000000"], "starts_on": "2026-11-01"}
    async with empty.http.post(empty.url + "/api/crm/campaigns", json=body, headers=empty.auth("201")) as r:
        assert r.status == 422


async def test_ending_a_campaign_sets_its_end_to_today(server: Server) -> None:
    direct = by_name(await server.get("/api/crm/campaigns"))["Директ"]
    url = f"{server.url}/api/crm/campaigns/{direct['id']}/end"
    async with server.http.post(url, headers=server.auth("201")) as r:
        assert (await r.json())["ends_on"] == "2026-11-20"


async def test_editing_a_campaign_changes_its_budget_and_numbers(server: Server) -> None:
    direct = by_name(await server.get("/api/crm/campaigns"))["Директ"]
    url = f"{server.url}/api/crm/campaigns/{direct['id']}"
    async with server.http.patch(
        url, json={"budget": 8000, "numbers": [SITE]}, headers=server.auth("201")
    ) as r:
        edited = await r.json()
    assert (edited["budget"], edited["numbers"]) == (8000.0, [SITE])


async def test_an_end_before_the_start_is_refused(server: Server) -> None:
    direct = by_name(await server.get("/api/crm/campaigns"))["Директ"]
    url = f"{server.url}/api/crm/campaigns/{direct['id']}"
    async with server.http.patch(url, json={"ends_on": "2026-11-01"}, headers=server.auth("201")) as r:
        assert r.status == 422


async def test_a_deleted_campaign_is_gone(server: Server) -> None:
    direct = by_name(await server.get("/api/crm/campaigns"))["Директ"]
    url = f"{server.url}/api/crm/campaigns/{direct['id']}"
    async with server.http.delete(url, headers=server.auth("201")) as r:
        assert r.status == 204
    assert "Директ" not in {c["name"] for c in (await server.get("/api/crm/campaigns"))["items"]}


async def test_an_employee_may_not_see_campaigns(server: Server) -> None:
    async with server.http.get(server.url + "/api/crm/campaigns", headers=server.auth("202")) as r:
        assert r.status == 403


async def test_clearing_the_end_date_makes_an_ended_campaign_active_again(server: Server) -> None:
    autumn = by_name(await server.get("/api/crm/campaigns"))["Осень"]
    url = f"{server.url}/api/crm/campaigns/{autumn['id']}"
    async with server.http.patch(url, json={"ends_on": None}, headers=server.auth("201")) as r:
        assert (await r.json())["ends_on"] is None
    autumn = by_name(await server.get("/api/crm/campaigns"))["Осень"]
    assert (autumn["active"], autumn["campaign_days"]) == (True, 30)  # 22 Oct .. today, 20 Nov
