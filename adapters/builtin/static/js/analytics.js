// The analytics page: summary, funnel, employees, tracking numbers, campaigns, import/export.
// Hand-drawn SVG charts; the header, the fetch helper and the formats are the CRM's own modules.
import { api } from "./api.js";
import { h, s, fill } from "./dom.js";
import { dateTime, money, num, pct } from "./format.js";
import { startAlerts } from "./alerts.js";
import { openLive } from "./live.js";
import { loadSession, mayUse, renderHeader } from "./shell.js";
import { confirmDialog, empty, failure, loading } from "./ui.js";

const an = { me: null, sort: "answered", order: "desc" };

function periodQuery() {
  const form = document.getElementById("period");
  const params = new URLSearchParams();
  for (const name of ["from", "to", "pbx"]) if (form.elements[name].value) params.set(name, form.elements[name].value);
  return params;
}

// Offices (many PBXs, one CRM): the filter shows only when calls came from more than one.
async function showOffices() {
  const offices = (await api("/analytics/offices")).items;
  if (offices.length < 2) return;
  const select = document.getElementById("period").elements.pbx;
  for (const pbx of offices.filter(Boolean)) select.append(h("option", { value: pbx, text: pbx }));
  document.getElementById("an-office").hidden = false;
}

function showPeriod(period) {
  const form = document.getElementById("period");
  form.elements.from.value = period.from;
  form.elements.to.value = period.to;
}

const minutes = (sec) => `${num(Math.round((sec || 0) / 60))} мин`;

function view(...children) {
  const root = document.getElementById("an-view");
  fill(root, ...children.filter(Boolean));
  return root;
}

// Errors show where the user looks: in the report area, whatever the tab.
function fail(err) { view(failure(err, route)); }

function kpi(label, value, testid) {
  return h("div", { class: "kpi", "data-testid": testid }, h("b", { text: value }), h("span", { text: label }));
}

function table(headers, rows, attrs = {}) {
  return h("div", { class: "table-wrap scroll-x" }, h("table", { class: `table report ${attrs.class || ""}`, ...attrs },
    h("thead", {}, h("tr", {}, headers.map((t) => (t instanceof Node ? t : h("th", { text: t }))))),
    h("tbody", {}, rows)));
}

const td = (value, cls) => h("td", { class: cls, text: value });

// -- charts ----------------------------------------------------------------------------------

// Vertical bars for a series of {label, value}; every `every`-th label is printed under its bar.
function columns(items, { testid, every = 1, height = 160 } = {}) {
  const width = 900, pad = 28, max = Math.max(1, ...items.map((i) => i.value));
  const step = (width - pad) / Math.max(1, items.length);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height + 30}`, class: "chart", role: "img", "data-testid": testid });
  svg.append(s("text", { x: 0, y: 12 }, String(max)), s("text", { x: 0, y: height }, "0"));
  items.forEach((item, i) => {
    const bar = (item.value / max) * (height - 10);
    const rect = s("rect", { class: "bar", x: pad + i * step + 1, y: height - bar, width: Math.max(1, step - 2), height: bar });
    rect.append(s("title", {}, `${item.label}: ${item.value}`));
    svg.append(rect);
    if (i % every === 0) svg.append(s("text", { x: pad + i * step, y: height + 16 }, item.label));
  });
  return svg;
}

// Horizontal bars, several series per row: rows [{label, values: [..]}], series [{name, cls}].
function hbars(rows, series, { testid } = {}) {
  const barH = 14, gap = 10, left = 170, width = 900;
  const rowH = series.length * barH + gap;
  const max = Math.max(1, ...rows.flatMap((r) => r.values));
  const svg = s("svg", { viewBox: `0 0 ${width} ${Math.max(rowH, rows.length * rowH)}`, class: "chart", "data-testid": testid });
  rows.forEach((row, r) => {
    const top = r * rowH;
    svg.append(s("text", { x: 0, y: top + barH }, row.label));
    row.values.forEach((value, k) => {
      const w = (value / max) * (width - left - 60);
      svg.append(s("rect", { class: `bar ${series[k].cls}`, x: left, y: top + k * barH, width: Math.max(0, w), height: barH - 2 }));
      svg.append(s("text", { x: left + w + 4, y: top + k * barH + barH - 3 }, num(value)));
    });
  });
  return svg;
}

// A year of days as a calendar heat map: one column per week, Monday on top.
function heatmap(days, { testid } = {}) {
  const cell = 13, left = 24, top = 16;
  const max = Math.max(1, ...days.map((d) => d.calls));
  const first = new Date(days[0].date + "T00:00:00");
  const offset = (first.getDay() + 6) % 7;
  const weeks = Math.ceil((days.length + offset) / 7);
  const svg = s("svg", { viewBox: `0 0 ${left + weeks * cell} ${top + 7 * cell}`, class: "chart", "data-testid": testid });
  ["Пн", "Ср", "Пт"].forEach((d, i) => svg.append(s("text", { x: 0, y: top + (i * 2 + 1) * cell - 2 }, d)));
  days.forEach((day, i) => {
    const slot = i + offset;
    const rect = s("rect", {
      class: day.calls ? "cell" : "empty", x: left + Math.floor(slot / 7) * cell, y: top + (slot % 7) * cell,
      width: cell - 2, height: cell - 2, "fill-opacity": day.calls ? 0.25 + 0.75 * (day.calls / max) : 1,
    });
    rect.append(s("title", {}, `${day.date}: ${day.calls}`));
    svg.append(rect);
    if (day.date.endsWith("-01")) svg.append(s("text", { x: left + Math.floor(slot / 7) * cell, y: 10 }, day.date.slice(5, 7)));
  });
  return svg;
}

// -- summary ---------------------------------------------------------------------------------

async function showSummary() {
  const data = await api("/analytics/summary?" + periodQuery());
  showPeriod(data.period);
  const c = data.calls, d = data.deals;
  const hours = data.hourly.map((x) => ({ label: x.hour.slice(11, 13), value: x.calls }));
  view(
    h("div", { class: "kpis", "data-testid": "kpis" },
      kpi("Новых клиентов", num(data.new_clients), "kpi-clients"),
      kpi("Новых сделок", num(d.created), "kpi-deals"),
      kpi(`Выполнено сделок на ${money(d.won_value)}`, num(d.won), "kpi-won"),
      kpi("Отказов", num(d.lost), "kpi-lost"),
      kpi("Звонков", num(c.total), "kpi-calls"),
      kpi("Входящих принято / пропущено", `${num(c.answered)} / ${num(c.missed)}`, "kpi-incoming"),
      kpi("Исходящих", num(c.outgoing), "kpi-outgoing"),
      kpi("Расходы на рекламу", money(data.campaigns.spend), "kpi-spend")),
    h("div", { class: "panel" }, h("h2", { text: "Пропущенные по причинам" }), missedByReason(c.missed_by_reason || {})),
    h("div", { class: "panel" }, h("h2", { text: "Входящие на многоканальные номера за 24 часа" }),
      columns(hours, { testid: "chart-hourly", every: 2 })),
    h("div", { class: "panel" }, h("h2", { text: "Входящие на многоканальные номера за год" }),
      heatmap(data.daily, { testid: "chart-daily" })),
    h("div", { class: "panel" }, h("h2", { text: "Рекламные кампании за период" }), campaignCosts(data.campaigns.items)),
  );
}

const MISSED_REASONS = { closed_hours: "Нерабочее время", ivr_abandon: "Положили трубку в голосовом меню", voicemail: "Голосовая почта",
  announcement: "Только объявление", busy_on_call: "Сотрудник занят", no_route: "Нет маршрута", caller_gave_up: "Не дождались ответа",
  no_answer: "Никто не ответил", unknown: "Причина не записана" };

function missedByReason(counts) {
  const rows = Object.entries(counts);
  if (!rows.length) return h("div", { "data-testid": "missed-by-reason" }, empty("Пропущенных звонков нет", ""));
  return table(["Причина", "Звонков"], rows.map(([reason, n]) => h("tr", {}, td(MISSED_REASONS[reason] || reason), td(num(n), "num"))),
    { "data-testid": "missed-by-reason" });
}

function campaignCosts(items) {
  if (!items.length) return h("div", { "data-testid": "campaign-costs" }, empty("Кампаний в этом периоде нет", "Добавьте рекламную кампанию на вкладке «Рекламные кампании», чтобы видеть стоимость заявки."));
  return table(["Кампания", "Дней в периоде", "Расход", "Уникальных звонков", "Стоимость заявки"],
    items.map((c) => h("tr", {}, td(c.name), td(num(c.days_in_period), "num"), td(money(c.spend), "num"),
      td(num(c.unique_callers), "num"), td(money(c.lead_cost), "num"))),
    { "data-testid": "campaign-costs" });
}

// -- funnel ----------------------------------------------------------------------------------

async function showFunnel() {
  const data = await api("/analytics/funnel?" + periodQuery());
  showPeriod(data.period);
  const rows = data.items.map((p) => ({ label: `${p.pipeline} (${pct(p.success)})`, values: [p.won, p.lost] }));
  view(
    h("div", { class: "kpis" },
      kpi("Завершено сделок", num(data.total.closed), "kpi-closed"),
      kpi("Из них отказ", num(data.total.lost), "kpi-funnel-lost"),
      kpi("Успешных", pct(data.total.success), "kpi-success")),
    h("div", { class: "panel" }, h("h2", { text: "Выполнено и отказ по воронкам" }),
      h("p", { class: "legend" }, h("span", {}, h("i", { class: "won" }), "Выполнено"), h("span", {}, h("i", { class: "lost" }), "Отказ")),
      hbars(rows, [{ cls: "alt" }, { cls: "bad" }], { testid: "chart-funnel" })),
    h("div", { class: "panel" },
      table(["Воронка", "Завершено", "Выполнено", "Отказ", "Сумма выполненных", "Успешных", "Отказы по этапам"],
        data.items.map((p) => h("tr", {}, td(p.pipeline), td(num(p.closed), "num"), td(num(p.won), "num"),
          td(num(p.lost), "num"), td(money(p.won_value), "num"), td(pct(p.success), "num"),
          td(Object.entries(p.lost_by_stage).map(([k, v]) => `${k}: ${v}`).join(", ")))),
        { "data-testid": "funnel-table" })),
  );
}

// -- employees -------------------------------------------------------------------------------

const EMPLOYEE_COLUMNS = [
  ["answered", "Принятые"], ["missed", "Пропущенные"], ["outgoing", "Исходящие"],
  ["talk_seconds", "Разговоры"], ["comments", "Комментарии"], ["won", "Выполнено"],
  ["won_value", "Сумма"], ["lost", "Отказ"],
];

async function showEmployees() {
  const data = await api(`/analytics/employees?${periodQuery()}&sort=${an.sort}&order=${an.order}`);
  showPeriod(data.period);
  const heads = [h("th", { text: "Рейтинг" }), h("th", { text: "Сотрудник" }),
    h("th", { class: "num", text: "На многоканальные" }), h("th", { class: "num", text: "На личные" }),
    ...EMPLOYEE_COLUMNS.map(([key, label]) => h("th", {
      class: `num sortable${key === data.sort ? " sorted" : ""}`, "data-sort": key,
      text: label + (key === data.sort ? (data.order === "desc" ? " ↓" : " ↑") : ""),
      onclick: () => { an.order = an.sort === key && an.order === "desc" ? "asc" : "desc"; an.sort = key; showEmployees().catch(fail); },
    }))];
  const rows = data.items.map((e) => h("tr", { "data-ext": e.extension },
    td(e.rank, "num"), td(`${e.name} (${e.extension})`), td(num(e.answered_tracking), "num"),
    td(num(e.answered_direct), "num"), td(num(e.answered), "num"), td(num(e.missed), "num"),
    td(num(e.outgoing), "num"), td(minutes(e.talk_seconds), "num"), td(num(e.comments), "num"),
    td(num(e.won), "num"), td(money(e.won_value), "num"), td(num(e.lost), "num")));
  view(
    h("div", { class: "panel" }, h("h2", { text: "Звонки сотрудников" }),
      h("p", { class: "legend" }, h("span", {}, h("i", { class: "calls" }), "Принятые"), h("span", {}, h("i", { class: "lost" }), "Пропущенные"), h("span", {}, h("i", { class: "won" }), "Исходящие")),
      hbars(data.items.map((e) => ({ label: e.name, values: [e.answered, e.missed, e.outgoing] })),
        [{ cls: "" }, { cls: "bad" }, { cls: "alt" }], { testid: "chart-employees" })),
    h("div", { class: "panel" }, table(heads, rows, { "data-testid": "employees-table" })),
  );
}

// -- tracking numbers (incoming) -------------------------------------------------------------

async function showLines() {
  const data = await api("/analytics/lines?" + periodQuery());
  showPeriod(data.period);
  const line = (label, r, cls) => h("tr", { class: cls }, td(label), td(num(r.calls), "num"), td(num(r.answered), "num"),
    td(pct(r.answered_percent), "num"), td(num(r.unique_callers), "num"));
  view(
    h("div", { class: "panel" }, h("h2", { text: "Входящие звонки по многоканальным номерам" }),
      h("p", { class: "legend" }, h("span", {}, h("i", { class: "calls" }), "Вызовов"), h("span", {}, h("i", { class: "won" }), "Принятых")),
      hbars(data.items.map((r) => ({ label: r.name || r.number, values: [r.calls, r.answered] })),
        [{ cls: "" }, { cls: "alt" }], { testid: "chart-lines" })),
    h("div", { class: "panel" }, table(
      ["Отслеживание", "Количество вызовов", "Принятых вызовов", "% принятых", "Уникальных абонентов"],
      [line("Всего", data.total, "total"), ...data.items.map((r) => line(r.name || r.number, r)),
        line("Среднее значение", data.average, "average")],
      { "data-testid": "lines-table" })),
  );
}

// -- campaigns -------------------------------------------------------------------------------

async function showCampaigns() {
  const [data, numbers] = await Promise.all([api("/campaigns?" + periodQuery()), api("/tracking-numbers")]);
  const costs = Object.fromEntries(data.in_period.map((c) => [c.id, c]));
  const names = Object.fromEntries(numbers.items.map((n) => [n.number, n.name || n.number]));
  const form = campaignForm(numbers.items);
  const rows = data.items.map((c) => h("tr", { "data-campaign": c.id },
    td(c.name), td(c.numbers.map((n) => names[n] || n).join(", ")), td(c.starts_on),
    td(c.ends_on || "активна"), td(money(c.budget), "num"),
    td(money(costs[c.id] && costs[c.id].lead_cost), "num"),
    h("td", { class: "actions" },
      h("button", { type: "button", text: "Изменить", onclick: () => fillCampaign(form, c) }),
      c.ends_on ? null : h("button", { type: "button", text: "Завершить", "data-testid": "campaign-end",
        onclick: () => api(`/campaigns/${c.id}/end`, { method: "POST" }).then(showCampaigns).catch(fail) }),
      h("button", { type: "button", text: "Удалить", onclick: () => {
        confirmDialog("Удалить кампанию?", `Кампания «${c.name}» будет удалена, восстановить её будет нельзя.`, { submit: "Удалить", danger: true })
          .then((yes) => yes && api(`/campaigns/${c.id}`, { method: "DELETE" }).then(showCampaigns)).catch(fail);
      } }))));
  view(
    h("div", { class: "panel" }, h("h2", { text: "Новая рекламная кампания" }), form),
    h("div", { class: "panel" }, table(
      ["Название", "Номера", "Начало", "Окончание", "Бюджет", "Стоимость заявки за период", ""], rows,
      { "data-testid": "campaigns-table" })),
  );
}

function campaignForm(numbers) {
  const form = h("form", { class: "form-grid", "data-testid": "campaign-form" },
    h("input", { type: "hidden", name: "id" }),
    h("label", {}, "Название", h("input", { name: "name", required: true, "data-testid": "campaign-name" })),
    h("label", {}, "Начало", h("input", { name: "starts_on", type: "date", required: true, "data-testid": "campaign-start" })),
    h("label", {}, "Окончание", h("input", { name: "ends_on", type: "date" })),
    h("label", {}, "Бюджет, ₽", h("input", { name: "budget", type: "number", min: "0", step: "0.01", "data-testid": "campaign-budget" })),
    h("fieldset", {}, h("legend", { text: "Многоканальные номера" }), numbers.map((n) =>
      h("label", {}, h("input", { type: "checkbox", name: "numbers", value: n.number }), ` ${n.name || n.number} ${n.number}`))),
    h("button", { type: "submit", "data-testid": "campaign-save", text: "Сохранить" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const body = { name: f.name.value, starts_on: f.starts_on.value, ends_on: f.ends_on.value || null,
      budget: f.budget.value === "" ? null : Number(f.budget.value),
      numbers: [...form.querySelectorAll("input[name=numbers]:checked")].map((i) => i.value) };
    const id = f.id.value;
    await api(id ? `/campaigns/${id}` : "/campaigns", { method: id ? "PATCH" : "POST", body }).then(showCampaigns).catch(fail);
  });
  return form;
}

function fillCampaign(form, c) {
  const f = form.elements;
  f.id.value = c.id; f.name.value = c.name; f.starts_on.value = c.starts_on;
  f.ends_on.value = c.ends_on || ""; f.budget.value = c.budget === null ? "" : c.budget;
  form.querySelectorAll("input[name=numbers]").forEach((i) => { i.checked = c.numbers.includes(i.value); });
}

// -- tracking numbers (names) ------------------------------------------------------------------

async function showNumbers() {
  const data = await api("/tracking-numbers");
  const admin = an.me && an.me.role === "admin";
  view(h("div", { class: "panel" }, table(["Номер", "Название", "Добавлен"], data.items.map((n) => {
    const input = h("input", { value: n.name, disabled: !admin, "data-testid": `number-name-${n.number}` });
    const save = admin ? h("button", { type: "button", text: "Сохранить", onclick: () =>
      api(`/tracking-numbers/${encodeURIComponent(n.number)}`, { method: "PATCH", body: { name: input.value } })
        .then(showNumbers).catch(fail) }) : null;
    return h("tr", {}, td(n.number), h("td", {}, input, " ", save), td(dateTime(n.created_at)));
  }), { "data-testid": "numbers-table" })));
}

// -- import and export -------------------------------------------------------------------------

async function showImport() {
  const file = h("input", { type: "file", accept: ".csv,.xlsx", "data-testid": "import-file" });
  const area = h("div", { "data-testid": "import-mapping" });
  const report = h("div", { "data-testid": "import-report" });
  file.addEventListener("change", () => previewImport(file, area, report).catch(fail));
  const imports = await api("/imports");
  const admin = an.me && an.me.role === "admin";
  view(
    h("div", { class: "panel" }, h("h2", { text: "Импорт клиентов (CSV, XLSX; до 5000 строк, 50 МБ)" }), file, area, report),
    h("div", { class: "panel" }, h("h2", { text: "Последние импорты" }), table(["Файл", "Когда", "Создано", "Пропущено", ""],
      imports.items.map((i) => h("tr", {}, td(i.filename), td(dateTime(i.created_at)),
        td(num(i.created), "num"), td(num(i.skipped), "num"),
        h("td", {}, i.undone_at ? "отменён" : h("button", { type: "button", text: "Отменить импорт", onclick: () =>
          api(`/imports/${i.id}`, { method: "DELETE" }).then(showImport).catch(fail) })))),
      { "data-testid": "imports-table" })),
    admin ? exportPanel((await api("/fields?entity=client")).items) : null,
  );
}

async function previewImport(file, area, report) {
  const form = new FormData();
  form.append("file", file.files[0]);
  const data = await api("/imports/preview", { method: "POST", form });
  const options = [["", "Не выбрано"], ...Object.entries(data.fields)];
  const selects = data.headers.map((header) => h("select", { "data-column": header },
    options.map(([value, label]) => h("option", { value, text: label, selected: value !== "" && guessField(header, data.fields) === value }))));
  const listName = h("input", { placeholder: "Название списка — необязательно", "data-testid": "import-list" });
  const run = (dry) => runImport(file, selects, listName.value, dry, report).catch(fail);
  fill(area, 
    h("p", { text: `Строк: ${data.rows}. Сопоставьте столбцы файла с полями карточки; два столбца в одном поле запишутся через пробел.` }),
    table(["Поле в файле", "Пример", "Поле в карточке клиента"], data.headers.map((header, i) =>
      h("tr", {}, td(header), td((data.sample[0] || [])[i] || ""), h("td", {}, selects[i]))), { class: "report mapping" }),
    h("p", {}, listName, " ",
      h("button", { type: "button", text: "Проверить", "data-testid": "import-dry", onclick: () => run(true) }), " ",
      h("button", { type: "button", text: "Импортировать", "data-testid": "import-run", onclick: () => run(false) })));
}

async function runImport(file, selects, listName, dry, report) {
  const form = new FormData();
  form.append("file", file.files[0]);
  form.append("mapping", JSON.stringify(Object.fromEntries(selects.map((s) => [s.dataset.column, s.value]))));
  form.append("list_name", listName);
  form.append("dry_run", dry ? "1" : "0");
  const data = await api("/imports", { method: "POST", form });
  fill(report, 
    h("p", { text: `${dry ? "Проверка" : "Импорт"}: строк ${data.rows}, ${dry ? "будет создано" : "создано"} ${data.created}, с ошибками ${data.skipped}.` }),
    h("ul", { class: "report-errors" }, data.errors.map((e) => h("li", { text: `Строка ${e.row}: ${e.message}` }))));
  if (!dry) {  // the list of imports now has this one (with its undo button); keep the report on top
    await showImport();
    document.getElementById("an-view").prepend(report);
  }
}

// The export's columns (manual: «Выберите поля, которые необходимо выгрузить»): all by default.
const EXPORT_FIELDS = [["id", "Номер"], ["name", "Имя"], ["phones", "Телефоны"], ["email", "E-mail"], ["company", "Компания"],
  ["inn", "ИНН"], ["responsible", "Ответственный"], ["lists", "Списки"], ["notes", "Заметки"], ["created_at", "Создан"]];

function exportPanel(custom) {
  const choices = [...EXPORT_FIELDS, ...custom.map((f) => [`f${f.id}`, f.label])].map(([key, label]) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "field", value: key, checked: true, "data-testid": `export-field-${key}` }), ` ${label}`));
  const form = h("form", { class: "form-grid", "data-testid": "export-form" },
    h("label", {}, "Записи", h("select", { name: "mode" },
      h("option", { value: "all", text: "Все записи" }), h("option", { value: "range", text: "Часть записей" }),
      h("option", { value: "list", text: "Список" }))),
    h("label", {}, "Начало диапазона", h("input", { name: "start", type: "number", min: "1", value: "1" })),
    h("label", {}, "Количество", h("input", { name: "count", type: "number", min: "1" })),
    h("label", {}, "Список", h("input", { name: "list" })),
    h("fieldset", { class: "columns-choice", "data-testid": "export-fields" }, h("legend", { text: "Поля" }), choices),
    h("button", { type: "submit", text: "Начать экспорт", "data-testid": "export-start" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const f = form.elements, params = new URLSearchParams();
    if (f.mode.value === "range") { params.set("start", f.start.value || "1"); if (f.count.value) params.set("count", f.count.value); }
    if (f.mode.value === "list") params.set("list", f.list.value);
    const picked = [...form.querySelectorAll("input[name=field]")].filter((i) => i.checked).map((i) => i.value);
    if (!picked.length) { document.getElementById("an-error").textContent = "Выберите хотя бы одно поле"; return; }
    if (picked.length < choices.length) params.set("fields", picked.join(","));
    location.href = "/api/crm/export?" + params;
  });
  return h("div", { class: "panel" }, h("h2", { text: "Экспорт клиентов" }), form);
}

// Obvious headers are mapped at once: «ФИО», «Телефон», «Email»... (the user may change them).
const GUESSES = [[/^(фио|имя|name|клиент|контакт|полное имя)$/i, "name"], [/^(телефон|тел\.?|phone|мобильный|номер)$/i, "phone"],
  [/^(e-?mail|почта|эл\.? ?почта|электронная почта)$/i, "email"], [/^(компания|организация|company)$/i, "company"],
  [/^(инн|inn)$/i, "inn"], [/^(заметки|примечание|комментарий|notes)$/i, "notes"]];
function guessField(header, fields) {
  const text = String(header).trim();
  for (const [pattern, key] of GUESSES) if (pattern.test(text) && key in fields) return key;
  return "";
}

// -- routing ---------------------------------------------------------------------------------

const PAGES = { summary: showSummary, funnel: showFunnel, employees: showEmployees, lines: showLines,
  campaigns: showCampaigns, numbers: showNumbers, import: showImport };

function route() {
  const name = location.hash.slice(1) in PAGES ? location.hash.slice(1) : "summary";
  document.querySelectorAll("#an-tabs a").forEach((a) => { const on = a.hash === "#" + name; a.classList.toggle("on", on); a.setAttribute("aria-selected", String(on)); });
  document.getElementById("period").hidden = ["numbers", "import"].includes(name);
  document.getElementById("an-error").textContent = "";
  view(loading());
  PAGES[name]().catch(fail);
}

async function boot() {
  try { an.me = await loadSession(); } catch (err) { location.href = "/crm/"; return; }
  renderHeader("analytics");
  openLive();
  startAlerts();
  if (!mayUse("sees_all")) {
    document.getElementById("an-tabs").hidden = true;
    document.getElementById("period").hidden = true;
    view(empty("Раздел недоступен", "Аналитика открыта администраторам и менеджерам."));
    return;
  }
  document.getElementById("period").addEventListener("submit", (event) => { event.preventDefault(); route(); });
  window.addEventListener("hashchange", route);
  route();
  showOffices().catch(() => {});  // the reports work without the filter
}

boot();
