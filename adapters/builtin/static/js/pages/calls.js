// Calls: every call with filters, the player and quick actions (no prompt(): dialogs).
import { api } from "../api.js";
import { h, formValues, debounce, fill } from "../dom.js";
import { duration, when, phone as fmtPhone } from "../format.js";
import { employeeName, session, mayUse } from "../shell.js";
import { badge, button, empty, failure, field, formDialog, loading, menu, pager, select, table, toast, toastError } from "../ui.js";
import { localInputToIso } from "../format.js";
import { icon } from "../icons.js";

const TYPES = [["", "Все"], ["incoming", "Входящие"], ["missed", "Пропущенные"], ["outgoing", "Исходящие"], ["internal", "Внутренние"]];
// The tracker's reasons for an unanswered call (docs/capture-format.md, "Reason").
const REASONS = { closed_hours: "нерабочее время", ivr_abandon: "положил трубку в меню", voicemail: "голосовая почта",
  announcement: "только объявление", busy_on_call: "занято", no_route: "нет маршрута", caller_gave_up: "не дождался ответа", no_answer: "никто не ответил" };
const state = { page: 1, type: "", lines: {} };

export function callKind(call) {
  if (call.direction === "outbound") return ["outgoing", "↗", "Исходящий"];
  if (call.direction === "internal") return ["internal", "↔", "Внутренний"];
  return call.disposition === "answered" ? ["incoming", "↙", "Входящий"] : ["missed", "↙", "Пропущенный"];
}

export async function showCalls(view) {
  state.page = 1;
  const lines = await api("/tracking-numbers").catch(() => ({ items: [] }));
  state.lines = Object.fromEntries(lines.items.map((n) => [n.number.replace(/^\+/, ""), n.name || n.number]));
  const list = h("div", { class: "table-wrap", "data-testid": "calls-wrap" }, loading());
  const filters = h("form", { class: "toolbar", id: "call-filters", "data-testid": "call-filters" },
    h("input", { name: "phone", type: "search", placeholder: "Номер телефона", "aria-label": "Номер телефона", class: "grow" }),
    session.me.sees_all ? select("employee", [["", "Все сотрудники"], ...session.employees.map((e) => [e.extension, e.name])], "", { "aria-label": "Сотрудник", "data-testid": "filter-employee" }) : null,
    select("reason", [["", "Любая причина"], ...Object.entries(REASONS)], "", { "aria-label": "Причина", "data-testid": "filter-reason" }),
    select("outcome", [["", "Любой итог"], ...(session.settings.call_outcomes || []).map((o) => [o, o])], "", { "aria-label": "Итог звонка", "data-testid": "filter-outcome" }),
    lines.items.length ? select("did", [["", "Все линии"], ...lines.items.map((n) => [n.number, n.name || fmtPhone(n.number)])], "", { "aria-label": "Линия" }) : null,
    h("label", { class: "check" }, "с ", h("input", { name: "from", type: "date", "aria-label": "С даты" })),
    h("label", { class: "check" }, "по ", h("input", { name: "to", type: "date", "aria-label": "По дату" })),
    h("label", { class: "check" }, h("input", { name: "appeals", type: "checkbox", value: "1" }), "Обращения"),
    h("label", { class: "check" }, h("input", { name: "unsorted", type: "checkbox", value: "1" }), "Неразобранные"),
    h("label", { class: "check" }, h("input", { name: "spam", type: "checkbox", value: "1", "data-testid": "filter-spam" }), "Спам"));
  const typeTabs = h("div", { class: "tabs", role: "tablist", "data-testid": "filter-type" }, TYPES.map(([key, label]) =>
    h("button", { type: "button", class: "tab", role: "tab", "data-key": key, "aria-selected": String(key === state.type),
      onclick: (e) => { state.type = key; typeTabs.querySelectorAll(".tab").forEach((b) => b.setAttribute("aria-selected", String(b === e.currentTarget))); reload(); } }, label)));
  const reload = () => { state.page = 1; load(list, filters); };
  filters.addEventListener("change", reload);
  filters.addEventListener("input", debounce((e) => { if (e.target.name === "phone") reload(); }, 300));
  filters.addEventListener("submit", (e) => { e.preventDefault(); reload(); });
  // The list as it is filtered now, as a spreadsheet (the server applies the same filters and scope).
  const download = () => { location.href = `/api/crm/calls.csv?${callsQuery(filters)}`; };
  fill(view, h("div", { class: "page-head" }, h("h1", { text: "Звонки" }), button("Выгрузить в CSV", download, { testid: "calls-export" })), typeTabs, filters, list);
  await load(list, filters);
  return () => load(list, filters, true);
}

// The filters on screen as the calls API's query (the list adds its page; the export takes it as is).
function callsQuery(filters) {
  const f = formValues(filters);
  const query = new URLSearchParams();
  if (state.type) query.set("type", state.type);
  for (const key of ["did", "employee", "reason", "outcome"]) if (f[key]) query.set(key, f[key]);
  // In the morning the night's closed-hours calls come first: they are the ones to call back.
  if (state.type === "missed" && new Date().getHours() < 12) query.set("closed_hours_first", "true");
  if (f.phone) query.set("q", f.phone);
  for (const key of ["appeals", "unsorted"]) if (f[key]) query.set(key, "true");
  query.set("spam", f.spam ? "true" : "false");
  if (f.from) query.set("from", localInputToIso(`${f.from}T00:00`));
  if (f.to) query.set("to", localInputToIso(`${new Date(Date.parse(f.to + "T00:00:00Z") + 86400000).toISOString().slice(0, 10)}T00:00`));
  return query;
}

async function load(list, filters, quiet = false) {
  if (!quiet) fill(list, loading());
  const query = callsQuery(filters);
  query.set("page", state.page);
  query.set("per_page", 25);
  let data;
  try { data = await api(`/calls?${query}`); } catch (err) { fill(list, failure(err, () => load(list, filters))); return; }
  const columns = [
    { label: "Когда", cell: (c) => h("span", { class: "nowrap", text: when(c.started_at) }) },
    { label: "Тип", cell: (c) => { const [cls, arrow, text] = callKind(c); return h("span", { class: `call-type ${cls}` }, h("span", { class: "arrow", "aria-hidden": "true" }, arrow), text,
      c.reason && c.disposition !== "answered" ? h("span", { class: "muted small", "data-testid": "call-reason" }, ` · ${REASONS[c.reason] || c.reason}${c.voicemail?.message_left ? " (оставил сообщение)" : ""}`) : null); } },
    { label: "Клиент", cell: clientCell },
    { label: "Линия", cls: "nowrap", cell: (c) => (c.did ? state.lines[String(c.did).replace(/^\+/, "")] || fmtPhone(c.did) : "") },
    { label: "Сотрудник", cls: "nowrap", cell: (c) => employeeName(c.employee) },
    { label: "Длительность", cls: "num", cell: (c) => (c.talk_seconds ? duration(c.talk_seconds) : "—") },
    { label: "Итог", cell: outcomeCell },
    { label: "Запись", cell: (c) => (c.recording_url ? h("audio", { controls: true, preload: "none", src: c.recording_url, "data-testid": "player" }) : "") },
    { label: "", cell: (c) => actions(c, () => load(list, filters, true)) },
  ];
  const go = (page) => { state.page = page; load(list, filters); };
  fill(list, 
    table(columns, data.items, { testid: "calls", rowAttrs: (c) => ({ "data-call": c.id, class: c.disposition === "answered" ? "" : "missed" }),
      emptyState: h("div", { "data-testid": "calls" }, empty("Звонков нет", "Когда сотрудники будут звонить и принимать звонки, они появятся здесь.")) }),
    data.total > data.per_page ? pager(data.page, data.per_page, data.total, go) : null);
}

// What came of the call: the employee picks it from the company's list (Настройки → Итоги звонков).
export function outcomeCell(call) {
  const outcomes = session.settings.call_outcomes || [];
  const options = [["", "—"], ...outcomes.map((o) => [o, o])];
  if (call.outcome && !outcomes.includes(call.outcome)) options.push([call.outcome, call.outcome]);  // since taken off the list
  const choice = select("outcome", options, call.outcome || "", { class: "compact", "aria-label": "Итог звонка", "data-testid": "call-outcome" });
  choice.addEventListener("change", async () => {
    try {
      await api(`/calls/${encodeURIComponent(call.id)}/outcome`, { method: "POST", body: { outcome: choice.value } });
      call.outcome = choice.value;
      toast(choice.value ? `Итог: ${choice.value}` : "Итог снят", { kind: "success", timeout: 2000 });
    } catch (err) { choice.value = call.outcome || ""; toastError(err); }
  });
  return choice;
}

function clientCell(call) {
  const card = call.client_id ? `#/client/${call.client_id}` : `#/new/${encodeURIComponent(call.phone)}`;
  const known = call.client_kind === "client";
  return h("div", {},
    h("a", { href: card, class: "cell-main nowrap" }, known ? call.client_name || "Без имени" : "Новый номер"),
    call.spam ? badge("спам", "danger") : null,
    h("div", { class: "cell-sub nowrap" }, call.direction === "internal" ? employeeName(call.phone) : fmtPhone(call.phone)));
}

function actions(call, reload) {
  const run = (fn, done) => async () => { try { if ((await fn()) === false) return; if (done) toast(done, { kind: "success", timeout: 2500 }); reload(); } catch (err) { toastError(err); } };
  const post = (path, body) => api(`/calls/${encodeURIComponent(call.id)}/${path}`, { method: "POST", body });
  const items = [
    ["Комментарий", run(async () => { const v = await formDialog("Комментарий к звонку", field("Текст", h("textarea", { name: "text", required: true, rows: 3 }))); if (!v) return false; await post("comment", { text: v.text }); }, "Комментарий сохранён"), "act-comment"],
    ["Задача", run(async () => { const v = await taskDialog(); if (!v) return false; await post("task", v); }, "Задача создана"), "act-task"],
    ["Сделка", run(() => post("deal", {}), "Сделка создана"), "act-deal"],
    call.client_kind !== "client" && call.direction !== "internal" ? ["Создать клиента", run(async () => {
      const v = await formDialog("Новый клиент", [field("Имя", h("input", { name: "name", required: true })), field("E-mail", h("input", { name: "email", type: "email" }))]);
      if (v) await post("client", { name: v.name, ...(v.email ? { email: v.email } : {}) });
    }, null), "act-client"] : null,
    [call.spam ? "Это не спам" : "Это спам", run(() => post("spam", { spam: !call.spam }), call.spam ? "Номер убран из спама" : "Номер отмечен как спам"), "act-spam"],
  ];
  const back = call.direction !== "internal" && session.me.extension
    ? button("Перезвонить", run(() => post("callback", {}), "Звоним: сначала зазвонит ваш телефон"), { size: "sm", testid: "act-callback", title: "Перезвонить" }) : null;
  return h("div", { class: "row-actions" }, back, menu(icon("more"), items, { testid: "call-menu" }));
}

async function taskDialog() {
  const v = await formDialog("Задача по звонку", [
    field("Что сделать", h("input", { name: "title", required: true })),
    field("Срок", h("input", { name: "deadline", type: "datetime-local" })),
    mayUse("sees_all") ? field("Исполнитель", select("assignee_id", [["", "Я"], ...session.employees.map((e) => [e.id, e.name])], "")) : null,
  ]);
  if (!v) return null;
  return { title: v.title, ...(v.deadline ? { deadline: localInputToIso(v.deadline) } : {}), ...(v.assignee_id ? { assignee_id: Number(v.assignee_id) } : {}) };
}
