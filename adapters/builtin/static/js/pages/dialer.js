// Auto-dial lists («Обзвоны», manual §2.4): the lists, a new list from a filter of clients, a
// CSV file or a pasted column, and one list's progress live: start, pause, «Дальше», skip.
// The page follows the live call events (/api/live) of the dialling employee and refreshes on each.
import { api } from "../api.js";
import { h, fill } from "../dom.js";
import { onLiveEvent } from "../live.js";
import { phone as fmtPhone, plural, when } from "../format.js";
import { session } from "../shell.js";
import { badge, button, empty, failure, field, formDialog, loading, select, table, tabs, toastError } from "../ui.js";

const STATES = { created: "Создан", running: "Идёт", paused: "Приостановлен", done: "Завершён", archived: "В архиве" };
const STATE_BADGE = { running: "info", paused: "warning", done: "success", archived: "" };
const RESULTS = { pending: "ждёт", dialing: "набирается", answered: "ответил", no_answer: "не ответил", busy: "занято", failed: "не удалось", skipped: "исключён" };
const RESULT_BADGE = { answered: "success", dialing: "info", no_answer: "warning", busy: "warning", failed: "danger", skipped: "" };
const PAUSES = [[0, "0 сек"], [10, "10 сек"], [20, "20 сек"], [30, "30 сек"], [60, "60 сек"], ["inf", "∞ (по кнопке «Дальше»)"]];

const pauseText = (s) => (s == null ? "∞ — следующий по кнопке «Дальше»" : `${s} сек.`);
const stateBadge = (l) => badge(STATES[l.state] || l.state, STATE_BADGE[l.state] || "");
const resultBadge = (e) => badge(RESULTS[e.status] || e.status, RESULT_BADGE[e.status] || "");
const dialled = (l) => l.total - l.counts.pending - l.counts.dialing;

export async function showDialer(view, arg) {
  if (arg && /^\d+$/.test(arg)) return showList(view, Number(arg));
  const box = h("div", { "data-testid": "dialer-page" });
  const state = { tab: "" };
  const load = () => listsTable(box, state.tab);
  fill(view, h("div", { class: "page-head" }, h("h1", { text: "Обзвоны" }),
    button("+ Новый обзвон", () => newList().then((l) => l && (location.hash = `#/dialer/${l.id}`)), { kind: "primary", testid: "new-dial-list" })),
  h("p", { class: "muted small", text: "Сначала звонит телефон сотрудника, после ответа набирается клиент; после разговора — пауза, затем следующий номер." }),
  tabs([["", "Все"], ["running", "Идут"], ["paused", "Приостановлены"], ["done", "Завершены"], ["archived", "Архив"]], state.tab, (k) => { state.tab = k; load(); }, { testid: "dialer-tabs" }), box);
  await load();
  return load;
}

async function listsTable(box, state) {
  let data;
  try { data = await api(`/dialer/lists?per_page=100${state ? `&state=${state}` : ""}`); } catch (err) { fill(box, failure(err, () => listsTable(box, state))); return; }
  fill(box, h("div", { class: "panel" }, table([
    { label: "Название", cell: (l) => h("a", { href: `#/dialer/${l.id}`, text: l.name }) },
    { label: "Звонит", cell: (l) => l.employee_name || h("span", { class: "muted", text: "не назначен" }) },
    { label: "Обзвонено", cls: "num", cell: (l) => `${dialled(l)} из ${l.total}` },
    { label: "Ответили", cls: "num", cell: (l) => l.counts.answered },
    { label: "Пауза", cell: (l) => pauseText(l.pause_seconds) },
    { label: "Создан", cell: (l) => when(l.created_at) },
    { label: "Статус", cell: stateBadge },
  ], data.items, { testid: "dial-lists", emptyState: empty("Обзвонов пока нет", "Создайте первый: выберите клиентов по условиям, загрузите CSV или вставьте номера столбцом.") })));
}

function sourceBody(kind, v, csvText) {
  if (kind === "numbers") return { numbers: v.numbers || "" };
  if (kind === "csv") return { csv: csvText.value };
  const filter = {};
  if (v.q) filter.q = v.q;
  if (v.responsible_id) filter.responsible_id = Number(v.responsible_id);
  return { filter: Object.keys(filter).length ? filter : { q: "" } };
}

async function newList() {
  const source = { kind: "filter" };
  const csvText = { value: "" };
  const summary = h("div", { class: "muted", "data-testid": "dial-preview", text: "Нажмите «Проверить», чтобы увидеть, сколько номеров попадёт в обзвон." });
  const form = () => summary.closest("form");
  const values = () => Object.fromEntries([...new FormData(form()).entries()].map(([k, v]) => [k, typeof v === "string" ? v.trim() : v]));
  const panes = {
    filter: h("div", { class: "field-row" },
      field("Имя, телефон или e-mail", h("input", { name: "q", "data-testid": "dial-q" })),
      field("Ответственный", select("responsible_id", [["", "любой"], ...session.employees.map((e) => [e.id, e.name])], ""))),
    numbers: field("Номера, по одному в строке", h("textarea", { name: "numbers", rows: 6, "data-testid": "dial-numbers", placeholder: "8 916 123-45-67\n+7 495 123 45 67" })),
    csv: field("CSV-файл (столбец «Телефон» или первый столбец с номерами)", h("input", { type: "file", accept: ".csv,text/csv,text/plain", "data-testid": "dial-csv",
      onchange: async (e) => { const file = e.target.files[0]; csvText.value = file ? await file.text() : ""; } })),
  };
  const paneBox = h("div", {}, panes.filter);
  const check = async () => {
    try {
      const p = await api("/dialer/lists/preview", { method: "POST", body: sourceBody(source.kind, values(), csvText) });
      fill(summary, h("b", { text: `${p.numbers} ${plural(p.numbers, "номер", "номера", "номеров")}` }),
        p.duplicates ? ` · повторы: ${p.duplicates}` : "", p.invalid ? ` · не номера: ${p.invalid}` : "",
        p.not_allowed ? ` · запрещены защитой от мошенничества: ${p.not_allowed}` : "", p.without_phone ? ` · без телефона: ${p.without_phone}` : "",
        p.too_many ? h("b", { class: "form-error", text: ` — больше ${p.limit}, сузьте условия` }) : "");
    } catch (err) { summary.textContent = err.message; }
  };
  return formDialog("Новый обзвон клиентов", [
    field("Название", h("input", { name: "name", required: true, "data-testid": "dial-name", placeholder: "Промоакция" })),
    tabs([["filter", "Клиенты по условиям"], ["numbers", "Вставить номера"], ["csv", "CSV-файл"]], source.kind, (k) => { source.kind = k; fill(paneBox, panes[k]); }, { testid: "dial-source" }),
    h("p", { class: "muted small", text: "Обязательное условие: телефон не пусто." }), paneBox,
    h("div", { class: "btn-row" }, button("Проверить", check, { testid: "dial-check" })), summary,
    h("div", { class: "field-row" },
      field("Пауза между звонками", select("pause", PAUSES, "20", { "data-testid": "dial-pause" })),
      field("Кто звонит", select("employee_id", [["", "кто начнёт"], ...session.employees.map((e) => [e.id, e.name])], String(session.me?.id ?? "")))),
    h("div", { class: "field-row" },
      field("Повтор, если не ответили, через (мин)", h("input", { name: "retry_minutes", type: "number", min: 1, max: 1440, value: 30 })),
      field("Попыток на номер", h("input", { name: "max_attempts", type: "number", min: 1, max: 5, value: 2 }))),
  ], { submit: "Создать обзвон", testid: "dial-dialog", onSubmit: (v) => api("/dialer/lists", { method: "POST", body: {
    name: v.name, ...sourceBody(source.kind, v, csvText),
    pause_seconds: v.pause === "inf" ? null : Number(v.pause), retry_minutes: Number(v.retry_minutes), max_attempts: Number(v.max_attempts),
    ...(v.employee_id ? { employee_id: Number(v.employee_id) } : {}) } }) });
}

async function showList(view, id) {
  const box = h("div", { "data-testid": "dial-list" }, loading());
  fill(view, h("p", {}, h("a", { href: "#/dialer", text: "← Все обзвоны" })), box);
  let timer = null;
  const load = async () => {
    clearTimeout(timer);
    let l;
    try { l = await api(`/dialer/lists/${id}?per_page=200`); } catch (err) { fill(box, failure(err, load)); return; }
    const act = (action) => api(`/dialer/lists/${id}/${action}`, { method: "POST" }).then(load).catch(toastError);
    const mine = session.me && l.employee_id === session.me.id;
    const pause = select("pause", PAUSES, l.pause_seconds == null ? "inf" : String(l.pause_seconds), { "data-testid": "dial-list-pause", "aria-label": "Пауза между звонками", disabled: !mine });
    pause.addEventListener("change", () => api(`/dialer/lists/${id}`, { method: "PATCH", body: { pause_seconds: pause.value === "inf" ? null : Number(pause.value) } }).then(load).catch(toastError));
    const current = l.entries.items.find((e) => e.status === "dialing");
    fill(box, h("section", { class: "panel" },
      h("div", { class: "panel-title" }, h("h1", { text: l.name }), stateBadge(l)),
      h("dl", { class: "kv" },
        h("dt", { text: "Звонит" }), h("dd", { text: l.employee_name ? `${l.employee_name} (${l.extension})` : "не назначен — звонить будет тот, кто начнёт" }),
        h("dt", { text: "Обзвонено" }), h("dd", { "data-testid": "dial-progress", text: `${dialled(l)} из ${l.total}${l.retries ? `, ждут повтора: ${l.retries}` : ""}` }),
        h("dt", { text: "Сейчас" }), h("dd", { "data-testid": "dial-now", text: current ? `набирается ${fmtPhone(current.phone)}` : l.state === "running" ? (l.reason || "—") : "—" }),
        h("dt", { text: "Пауза между звонками" }), h("dd", {}, pause, mine ? null : h("span", { class: "muted small", text: " меняет сотрудник, который звонит" })),
        l.state === "paused" && l.reason ? [h("dt", { text: "Причина паузы" }), h("dd", { class: "form-error", "data-testid": "dial-reason", text: l.reason })] : null),
      h("div", { class: "btn-row", "data-testid": "dial-counts" }, Object.entries(l.counts).filter(([, n]) => n).map(([s, n]) => h("span", { class: "btn-row" }, resultBadge({ status: s }), h("b", { text: String(n) })))),
      h("div", { class: "btn-row" },
        l.state === "created" ? button("Начать", () => act("start"), { kind: "primary", testid: "dial-start" }) : null,
        l.state === "paused" ? button("Продолжить", () => act("resume"), { kind: "primary", testid: "dial-resume" }) : null,
        l.state === "running" ? button("Пауза", () => act("pause"), { testid: "dial-pause-list" }) : null,
        l.state === "running" && l.hold ? button("Дальше", () => act("next"), { kind: "primary", testid: "dial-next" }) : null,
        ["created", "paused", "done"].includes(l.state) ? button("В архив", () => act("archive"), { kind: "ghost", testid: "dial-archive" }) : null)),
    h("section", { class: "panel" }, h("h2", { text: "Номера" }), table([
      { label: "#", cls: "num", cell: (e) => e.position },
      { label: "Клиент", cell: (e) => (e.client_id ? h("a", { href: `#/client/${e.client_id}`, text: e.client_name || "Без имени" }) : "") },
      { label: "Номер", cell: (e) => fmtPhone(e.phone) },
      { label: "Результат", cell: (e) => h("span", { title: e.detail || "" }, resultBadge(e)) },
      { label: "Попыток", cls: "num", cell: (e) => e.attempts },
      { label: "Повтор", cell: (e) => (e.retry_at ? when(e.retry_at) : "") },
      { label: "Звонок", cell: (e) => (e.call_id && !["pending", "dialing"].includes(e.status) ? h("a", { href: `#/calls?q=${encodeURIComponent(e.phone)}`, title: e.call_id, text: when(e.dialled_at) }) : "") },
      { label: "", cell: (e) => (["pending", "no_answer"].includes(e.status) && (e.status === "pending" || e.retry_at)
        ? button("Исключить", () => api(`/dialer/lists/${id}/entries/${e.id}/skip`, { method: "POST" }).then(load).catch(toastError), { size: "sm", kind: "ghost" }) : "") },
    ], l.entries.items, { testid: "dial-entries", rowAttrs: (e) => ({ "data-status": e.status }) })));
    // while it runs, follow it: on every live call event of its employee, and every few seconds
    if (l.state === "running" && box.isConnected) timer = setTimeout(() => box.isConnected && load(), 3000);
    Object.assign(follow, { reload: load, box, extension: l.extension });
  };
  await load();
  return load;
}

const follow = { reload: null, box: null, extension: null };
onLiveEvent((message) => {
  const event = message.event || {};
  if (!follow.box?.isConnected || (follow.extension && event.exten && event.exten !== follow.extension)) return;
  for (const delay of [300, 1500]) setTimeout(() => follow.box?.isConnected && follow.reload(), delay);
});
