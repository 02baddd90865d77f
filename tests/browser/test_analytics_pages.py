"""The analytics pages in a real browser: each report renders its figures and charts; campaigns,
tracking-number names and imports are worked through their forms. Screenshots go to tests/artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.unit.analytics.conftest import Server, analytics_server
from tests.unit.builtin.helpers import LOGINS

pytestmark = pytest.mark.browser
TIMEOUT = 15_000  # ms; an upper bound for a loaded CI machine, not a timing assertion


@pytest.fixture
async def crm(tmp_path: Path) -> AsyncIterator[Server]:
    """The app with the hand-computed data set, the clock at 2026-11-20 12:00 MSK."""
    async with analytics_server(tmp_path) as running:
        yield running


async def open_analytics(page: Any, crm: Server, tab: str = "summary", ext: str = "200") -> None:
    """Sign in on the CRM page, then open an analytics tab."""
    from playwright.async_api import expect

    await page.goto(f"{crm.url}/crm/")
    login, password = LOGINS[ext]
    await page.get_by_test_id("login").fill(login)
    await page.get_by_test_id("password").fill(password)
    await page.get_by_test_id("sign-in").click()
    await expect(page.get_by_test_id("calls")).to_be_visible(timeout=TIMEOUT)
    await page.goto(f"{crm.url}/crm/analytics#{tab}")


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_the_nav_link_opens_the_summary_for_this_month(page: Any, crm: Server) -> None:
    from playwright.async_api import expect

    await open_analytics(page, crm)
    await page.goto(f"{crm.url}/crm/")
    await page.get_by_test_id("nav-analytics").click()
    await expect(page.get_by_test_id("period-from")).to_have_value("2026-11-01", timeout=TIMEOUT)
    await expect(page.get_by_test_id("period-to")).to_have_value("2026-11-20")


async def test_the_summary_page_shows_figures_and_both_call_charts(page: Any, crm: Server) -> None:
    from playwright.async_api import expect

    await open_analytics(page, crm)
    await expect(page.get_by_test_id("kpi-clients").locator("b")).to_have_text("3", timeout=TIMEOUT)
    await expect(page.get_by_test_id("kpi-incoming").locator("b")).to_have_text("6 / 4")
    await expect(page.get_by_test_id("chart-hourly").locator("rect.bar")).to_have_count(24)
    await expect(page.get_by_test_id("chart-daily").locator("rect")).to_have_count(365)
    await expect(page.get_by_test_id("chart-daily").locator("rect.cell")).to_have_count(9)
    await expect(page.get_by_test_id("campaign-costs")).to_contain_text("Осень")
    await shot(page, "analytics-summary")


async def test_the_funnel_page_shows_success_per_pipeline(page: Any, crm: Server) -> None:
    from playwright.async_api import expect

    await open_analytics(page, crm, "funnel")
    await expect(page.get_by_test_id("kpi-success").locator("b")).to_have_text("50%", timeout=TIMEOUT)
    rows = page.get_by_test_id("funnel-table").locator("tbody tr")
    await expect(rows.nth(0)).to_contain_text("66,67%")
    await expect(page.get_by_test_id("chart-funnel").locator("rect")).to_have_count(4)
    await shot(page, "analytics-funnel")


async def test_the_employees_page_sorts_by_a_clicked_column(page: Any, crm: Server) -> None:
    from playwright.async_api import expect

    await open_analytics(page, crm, "employees")
    table = page.get_by_test_id("employees-table")
    await expect(table.locator("tbody tr").first).to_be_visible(timeout=TIMEOUT)
    await table.locator('th[data-sort="talk_seconds"]').click()
    await expect(table.locator("tbody tr").first).to_have_attribute("data-ext", "203", timeout=TIMEOUT)
    await table.locator('th[data-sort="outgoing"]').click()
    await expect(table.locator("tbody tr").first).to_have_attribute("data-ext", "202", timeout=TIMEOUT)
    await shot(page, "analytics-employees")


async def test_the_lines_page_shows_the_total_and_average_rows(page: Any, crm: Server) -> None:
    from playwright.async_api import expect

    await open_analytics(page, crm, "lines")
    table = page.get_by_test_id("lines-table")
    await expect(table.locator("tr.total")).to_contain_text("55,56%", timeout=TIMEOUT)
    await expect(table.locator("tr.average")).to_contain_text("33,33%")
    await expect(page.get_by_test_id("chart-lines")).to_contain_text("Яндекс.Директ")
    await shot(page, "analytics-lines")


async def test_a_campaign_is_created_and_ended_on_the_campaigns_page(page: Any, crm: Server) -> None:
    from playwright.async_api import expect

    await open_analytics(page, crm, "campaigns")
    form = page.get_by_test_id("campaign-form")
    await page.get_by_test_id("campaign-name").fill("Визитки")
    await page.get_by_test_id("campaign-start").fill("2026-11-15")
    await page.get_by_test_id("campaign-budget").fill("6000")
    await form.locator('input[value="+74951110003"]').check()
    await page.get_by_test_id("campaign-save").click()
    row = page.get_by_test_id("campaigns-table").locator("tr", has_text="Визитки")
    await expect(row).to_contain_text("активна", timeout=TIMEOUT)
    await row.get_by_test_id("campaign-end").click()
    await expect(page.get_by_test_id("campaigns-table").locator("tr", has_text="Визитки")).to_contain_text(
        "2026-11-20", timeout=TIMEOUT
    )
    await shot(page, "analytics-campaigns")


async def test_an_admin_renames_a_tracking_number_on_the_numbers_page(page: Any, crm: Server) -> None:
    from playwright.async_api import expect

    await open_analytics(page, crm, "numbers")
    field = page.get_by_test_id("number-name-+74951110003")
    await field.fill("Визитки")
    await page.get_by_test_id("numbers-table").locator("tr", has=field).get_by_role("button").click()
    await expect(page.get_by_test_id("number-name-+74951110003")).to_have_value("Визитки", timeout=TIMEOUT)
    assert (await crm.get("/api/crm/tracking-numbers"))["items"][2]["name"] == "Визитки"
    await shot(page, "analytics-numbers")


async def test_an_import_is_checked_run_and_undone_on_the_import_page(
    page: Any, crm: Server, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    upload = tmp_path / "clients.csv"
    upload.write_text("Имя,Фамилия,Телефон\nИван,Петров,+79160000031\n,,+79160000032\n", "utf-8")
    await open_analytics(page, crm, "import")
    await page.get_by_test_id("import-file").set_input_files(str(upload))
    mapping = page.get_by_test_id("import-mapping")
    await mapping.locator('select[data-column="Имя"]').select_option("name", timeout=TIMEOUT)
    await mapping.locator('select[data-column="Фамилия"]').select_option("name")
    await mapping.locator('select[data-column="Телефон"]').select_option("phone")
    await page.get_by_test_id("import-dry").click()
    await expect(page.get_by_test_id("import-report")).to_contain_text("Строка 3: нет имени", timeout=TIMEOUT)
    await page.get_by_test_id("import-run").click()
    imports = page.get_by_test_id("imports-table")
    await expect(imports.locator("tbody tr")).to_have_count(1, timeout=TIMEOUT)
    await shot(page, "analytics-import")
    await imports.get_by_role("button", name="Отменить импорт").click()
    await expect(imports.locator("tbody tr").first).to_contain_text("отменён", timeout=TIMEOUT)
    assert (await crm.get("/api/crm/clients", kind="client"))["total"] == 4  # the data set's own four


async def test_the_office_filter_narrows_the_summary_to_one_pbx(page: Any, crm: Server) -> None:
    from playwright.async_api import expect

    from tests.unit.analytics.dataset import SITE, msk
    from tests.unit.builtin.helpers import make_call

    await crm.store.calls.save(make_call("o1", "+79160000071", did=SITE, start=msk(11, 12, 10)), "spb")
    await crm.store.calls.save(make_call("o2", "+79160000072", did=SITE, start=msk(11, 12, 11)), "ekb")
    await open_analytics(page, crm)
    await expect(page.get_by_test_id("kpi-incoming").locator("b")).to_have_text("8 / 4", timeout=TIMEOUT)
    await page.get_by_test_id("period-pbx").select_option("spb")
    await page.get_by_test_id("period").locator("button[type=submit]").click()
    await expect(page.get_by_test_id("kpi-incoming").locator("b")).to_have_text("1 / 0", timeout=TIMEOUT)
