"""Each report on the hand-computed data set (see dataset.py for the calls, deals and campaigns)."""

from __future__ import annotations

from tests.unit.analytics.conftest import Server


async def test_the_default_period_is_this_month_up_to_today(server: Server) -> None:
    body = await server.get("/api/crm/analytics/summary")
    assert body["period"] == {"from": "2026-11-01", "to": "2026-11-20"}


async def test_summary_counts_new_clients_of_kind_client_created_in_the_period(server: Server) -> None:
    body = await server.get("/api/crm/analytics/summary")
    assert body["new_clients"] == 3  # Новый 1-3; not the October client, not the contact card


async def test_summary_counts_deals_created_won_and_lost_in_the_period(server: Server) -> None:
    body = await server.get("/api/crm/analytics/summary")
    assert body["deals"] == {"created": 2, "won": 3, "lost": 3, "won_value": 4200.0}


async def test_summary_counts_calls_by_kind_in_local_days(server: Server) -> None:
    # c12 started 2026-10-31 22:30 UTC, which is 1 November in Moscow: it is in; c8 (30 Oct) is out.
    body = await server.get("/api/crm/analytics/summary")
    assert body["calls"] == {
        "total": 11, "incoming": 10, "answered": 6, "missed": 4, "outgoing": 1, "tracking": 9,
        "missed_by_reason": {"unknown": 4},  # the data set's calls were filed before reasons
    }  # fmt: skip


async def test_summary_spend_adds_up_the_campaigns_in_the_period(server: Server) -> None:
    # Осень: 20000 / 20 days × 10 days in November = 10000; Директ: 5000 / 10 × 10 = 5000.
    body = await server.get("/api/crm/analytics/summary")
    assert body["campaigns"]["spend"] == 15000.0


async def test_the_hourly_chart_covers_the_last_24_local_hours_on_tracking_numbers(server: Server) -> None:
    hours = (await server.get("/api/crm/analytics/summary"))["hourly"]
    assert [h["hour"] for h in (hours[0], hours[-1])] == ["2026-11-19T13:00", "2026-11-20T12:00"]
    busy = {h["hour"]: h["calls"] for h in hours if h["calls"]}
    assert busy == {"2026-11-19T13:00": 1, "2026-11-20T11:00": 1}  # c10 and c9; c11 (12:30) is older


async def test_the_daily_chart_covers_a_year_of_tracking_number_calls(server: Server) -> None:
    days = (await server.get("/api/crm/analytics/summary"))["daily"]
    assert (len(days), days[-1]["date"]) == (365, "2026-11-20")
    busy = {d["date"]: d["calls"] for d in days if d["calls"]}
    assert busy == {
        "2026-10-30": 1, "2026-11-01": 1, "2026-11-05": 1, "2026-11-06": 1, "2026-11-07": 1,
        "2026-11-08": 1, "2026-11-09": 1, "2026-11-19": 2, "2026-11-20": 1,
    }  # fmt: skip


async def test_the_funnel_counts_only_deals_won_or_lost_in_the_period_per_pipeline(server: Server) -> None:
    body = await server.get("/api/crm/analytics/funnel")
    by_name = {i["pipeline"]: i for i in body["items"]}
    sales, wholesale = by_name["Продажи"], by_name["Опт"]
    assert (sales["closed"], sales["won"], sales["lost"], sales["won_value"]) == (3, 2, 1, 3500.0)
    assert (wholesale["closed"], wholesale["won"], wholesale["lost"], wholesale["won_value"]) == (
        3,
        1,
        2,
        700.0,
    )


async def test_funnel_success_is_closed_minus_lost_over_closed(server: Server) -> None:
    body = await server.get("/api/crm/analytics/funnel")
    assert [i["success"] for i in body["items"]] == [66.67, 33.33]  # (3−1)/3, (3−2)/3
    assert body["total"] == {"closed": 6, "lost": 3, "success": 50.0}


async def test_the_funnel_shows_at_which_stage_deals_were_lost(server: Server) -> None:
    body = await server.get("/api/crm/analytics/funnel")
    assert [i["lost_by_stage"] for i in body["items"]] == [{"Предложение": 1}, {"Заявка": 2}]


async def test_the_funnel_narrows_to_one_pipeline(server: Server) -> None:
    pipes = await server.get("/api/crm/pipelines")
    wholesale = next(p["id"] for p in pipes["items"] if p["name"] == "Опт")
    body = await server.get("/api/crm/analytics/funnel", pipeline_id=str(wholesale))
    assert [i["pipeline"] for i in body["items"]] == ["Опт"]
    assert body["total"]["success"] == 33.33


async def test_a_period_with_no_closed_deals_has_no_success_figure(server: Server) -> None:
    body = await server.get("/api/crm/analytics/funnel", **{"from": "2026-09-01", "to": "2026-09-30"})
    assert body["total"] == {"closed": 0, "lost": 0, "success": None}


async def test_employee_results_count_each_employees_calls_and_talk_time(server: Server) -> None:
    rows = {r["extension"]: r for r in (await server.get("/api/crm/analytics/employees"))["items"]}
    pick = ("answered", "answered_tracking", "answered_direct", "missed", "outgoing", "talk_seconds")
    assert {k: rows["202"][k] for k in pick} == dict(zip(pick, (3, 3, 0, 3, 1, 155), strict=True))
    assert {k: rows["203"][k] for k in pick} == dict(zip(pick, (3, 2, 1, 2, 0, 260), strict=True))


async def test_employee_results_count_comments_and_closed_deals(server: Server) -> None:
    rows = {r["extension"]: r for r in (await server.get("/api/crm/analytics/employees"))["items"]}
    pick = ("comments", "won", "won_value", "lost")
    assert {k: rows["202"][k] for k in pick} == {"comments": 2, "won": 2, "won_value": 3500.0, "lost": 0}
    assert {k: rows["203"][k] for k in pick} == {"comments": 1, "won": 1, "won_value": 700.0, "lost": 3}


async def test_employee_results_sort_by_the_chosen_column(server: Server) -> None:
    body = await server.get("/api/crm/analytics/employees", sort="talk_seconds")
    assert [(r["rank"], r["extension"]) for r in body["items"][:2]] == [(1, "203"), (2, "202")]
    body = await server.get("/api/crm/analytics/employees", sort="lost", order="asc")
    assert body["items"][-1]["extension"] == "203"


async def test_the_lines_report_counts_calls_per_tracking_number(server: Server) -> None:
    body = await server.get("/api/crm/analytics/lines")
    rows = [
        (i["name"], i["calls"], i["answered"], i["answered_percent"], i["unique_callers"])
        for i in body["items"]
    ]
    assert rows == [
        ("Сайт", 6, 4, 66.67, 5),
        ("Яндекс.Директ", 3, 1, 33.33, 3),
        ("Instagram", 0, 0, 0.0, 0),
    ]


async def test_the_lines_total_counts_a_caller_of_two_numbers_once(server: Server) -> None:
    body = await server.get("/api/crm/analytics/lines")
    assert body["total"] == {"calls": 9, "answered": 5, "unique_callers": 7, "answered_percent": 55.56}


async def test_the_lines_average_row_is_the_mean_of_the_rows(server: Server) -> None:
    body = await server.get("/api/crm/analytics/lines")
    assert body["average"] == {
        "calls": 3.0,
        "answered": 1.67,
        "answered_percent": 33.33,
        "unique_callers": 2.67,
    }


async def test_an_employee_may_not_read_analytics(server: Server) -> None:
    async with server.http.get(server.url + "/api/crm/analytics/summary", headers=server.auth("202")) as r:
        assert r.status == 403


async def test_a_period_that_ends_before_it_starts_is_refused(server: Server) -> None:
    params = {"from": "2026-11-10", "to": "2026-11-01"}
    async with server.http.get(
        server.url + "/api/crm/analytics/lines", params=params, headers=server.auth("200")
    ) as response:
        assert response.status == 422
