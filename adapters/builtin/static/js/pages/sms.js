// SMS: the counter under a text (the rules of adapters/builtin/sms_text.py), the card's SMS form,
// and the mailings page (#/sms): list, new mailing with the client's fields, recipients, cost and
// the first recipient's text before sending,
// one mailing's recipients with pause / resume / cancel, and the opt-out list.
import { api } from "../api.js";
import { h, fill } from "../dom.js";
import { localInputToIso, money, phone as fmtPhone, plural, when } from "../format.js";
import { session } from "../shell.js";
import { badge, button, empty, failure, field, formDialog, loading, select, table, tabs, toast, toastError } from "../ui.js";

const GSM7 = new Set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà");
const GSM7_EXT = new Set("^{}\\[~]|€\f");
export const SMS_WORDS = { queued: "в очереди", sending: "отправляется", sent: "отправлено", delivered: "доставлено", read: "прочитано",
  failed: "не доставлено", expired: "просрочено", skipped: "пропущено" };
const SMS_BADGE = { delivered: "success", read: "success", failed: "danger", expired: "danger", skipped: "warning" };
export const SMS_FINAL = new Set(["delivered", "read", "failed", "expired", "skipped"]);
const STATES = { active: "Отправляется", paused: "Приостановлена", cancelled: "Отменена", done: "Отправлена" };

// How many SMS a text is: GSM-7 160/153 a part, else UCS-2 70/67; a two-unit character is never cut.
export function smsCount(text) {
  const chars = [...text];
  const gsm = chars.every((c) => GSM7.has(c) || GSM7_EXT.has(c));
  const [single, part] = gsm ? [160, 153] : [70, 67];
  const widths = chars.map((c) => (gsm ? (GSM7_EXT.has(c) ? 2 : 1) : c.length));
  const units = widths.reduce((a, b) => a + b, 0);
  const encoding = gsm ? "gsm7" : "ucs2";
  if (units === 0) return { encoding, units, segments: 0, perSegment: single, left: single };
  if (units <= single) return { encoding, units, segments: 1, perSegment: single, left: single - units };
  let segments = 1, used = 0;
  for (const w of widths) { if (used + w > part) { segments += 1; used = 0; } used += w; }
  return { encoding, units, segments, perSegment: part, left: part - used };
}

export function counterText(text) {
  const c = smsCount(text);
  const alphabet = c.encoding === "gsm7" ? "латиница: 160 в одном СМС" : "кириллица: 70 в одном СМС";
  return `${c.segments} ${plural(c.segments, "СМС", "СМС", "СМС")} · осталось ${c.left} · ${alphabet}`;
}

function counted(textarea) {
  const out = h("span", { class: "muted small", "data-testid": "sms-counter", "aria-live": "polite", text: counterText(textarea.value) });
  textarea.addEventListener("input", () => { out.textContent = counterText(textarea.value); out.dataset.segments = smsCount(textarea.value).segments; });
  return out;
}

let infoCache = null;
export async function smsInfo(fresh = false) {
  if (!infoCache || fresh) infoCache = api("/sms").catch(() => ({ enabled: false }));
  return infoCache;
}

export function smsBadge(status) { return badge(SMS_WORDS[status] || status, SMS_BADGE[status] || "info"); }

// The card's SMS form: text with its counter, the number (mobile first), the sender name.
export function smsComposer(client, info, loadFeed) {
  const textarea = h("textarea", { name: "text", rows: 3, required: true, maxlength: 1000, placeholder: "Текст СМС · {Имя}, {Компания} и другие поля клиента подставятся", "data-testid": "sms-text", "aria-label": "Текст СМС" });
  const phones = [...client.phones].sort((a, b) => Number(b.startsWith("+79")) - Number(a.startsWith("+79")));
  const form = h("form", { class: "composer", "data-testid": "sms-form", onsubmit: async (e) => {
    e.preventDefault();
    const f = e.target.elements;
    try {
      await api(`/clients/${client.id}/sms`, { method: "POST", body: { text: f.text.value, phone: f.phone.value, ...(f.sender ? { sender: f.sender.value } : {}) } });
      form.reset();
      textarea.dispatchEvent(new Event("input"));
      toast("СМС поставлено в очередь", { kind: "success", timeout: 2000 });
      loadFeed();
    } catch (err) { toastError(err); }
  } }, textarea, counted(textarea),
  h("div", { class: "field-row" },
    phones.length ? select("phone", phones.map((p) => [p, fmtPhone(p)]), phones[0], { "aria-label": "Номер", "data-testid": "sms-phone" }) : h("span", { class: "muted", text: "У клиента нет номера" }),
    info.senders.length > 1 ? select("sender", info.senders.map((s) => [s, s]), info.senders[0], { "aria-label": "Имя отправителя" }) : null),
  h("div", { class: "btn-row" }, button("Отправить СМС", null, { type: "submit", kind: "primary", testid: "sms-send", disabled: !phones.length })));
  return form;
}

// -- the mailings page --------------------------------------------------------------------------

export async function showSms(view, arg) {
  fill(view, loading());
  const info = await smsInfo(true);
  if (!info.enabled) {
    fill(view, h("div", { class: "panel" }, empty("СМС не подключены", "Администратор включает их в настройках коннектора: adapters.builtin.sms (SMSC.ru).")));
    return null;
  }
  if (arg && /^\d+$/.test(arg)) return showMailing(view, Number(arg), info);
  const box = h("div", { "data-testid": "sms-page" });
  const state = { tab: "mailings" };
  const load = () => (state.tab === "mailings" ? mailingsList(box) : optoutList(box));
  fill(view, h("div", { class: "page-head" }, h("h1", { text: "СМС-рассылки" }),
    h("span", { class: "muted", "data-testid": "sms-balance", text: info.balance == null ? "Баланс недоступен" : `Баланс: ${money(info.balance)}` }),
    button("+ Создать рассылку", () => newMailing(info).then((m) => m && (location.hash = `#/sms/${m.id}`)), { kind: "primary", testid: "new-mailing" })),
  info.problem ? h("p", { class: "form-error", "data-testid": "sms-problem", text: `Отправка остановлена: ${info.problem}` }) : null,
  tabs([["mailings", "Рассылки"], ["optout", "Отказы от рассылок"]], state.tab, (k) => { state.tab = k; load(); }, { testid: "sms-tabs" }), box);
  await load();
  return load;
}

function stateBadge(m) {
  if (m.state === "active" && Date.parse(m.scheduled_at) > Date.now()) return badge("Запланирована", "info");
  return badge(STATES[m.state] || m.state, m.state === "done" ? "success" : m.state === "cancelled" ? "danger" : m.state === "paused" ? "warning" : "info");
}

async function mailingsList(box) {
  let data;
  try { data = await api("/sms/mailings?per_page=100"); } catch (err) { fill(box, failure(err, () => mailingsList(box))); return; }
  fill(box, h("div", { class: "panel" }, table([
    { label: "Название", cell: (m) => h("a", { href: `#/sms/${m.id}`, text: m.name }) },
    { label: "Дата и время", cell: (m) => when(m.scheduled_at) },
    { label: "Получатели", cls: "num", cell: (m) => m.recipients },
    { label: "Доставлено", cls: "num", cell: (m) => `${(m.counts.delivered || 0) + (m.counts.read || 0)} из ${m.recipients}` },
    { label: "Статус", cell: stateBadge },
  ], data.items, { testid: "mailings", emptyState: empty("Рассылок пока нет", "Создайте первую: выберите клиентов, напишите текст, проверьте стоимость.") })));
}

async function optoutList(box) {
  let data;
  try { data = await api("/sms/optout?per_page=200"); } catch (err) { fill(box, failure(err, () => optoutList(box))); return; }
  const input = h("input", { type: "tel", name: "phone", required: true, placeholder: "Номер", "aria-label": "Номер", "data-testid": "optout-phone" });
  const add = h("form", { class: "toolbar", onsubmit: async (e) => {
    e.preventDefault();
    try { await api("/sms/optout", { method: "POST", body: { phone: input.value, reason: e.target.elements.reason.value } }); optoutList(box); } catch (err) { toastError(err); }
  } }, input, h("input", { name: "reason", class: "grow", placeholder: "Причина (необязательно)", "aria-label": "Причина" }), button("Добавить", null, { type: "submit" }));
  fill(box, h("div", { class: "panel" }, h("p", { class: "muted small", text: "На эти номера не уходят ни рассылки, ни автоматические СМС." }), add,
    table([
      { label: "Номер", cell: (r) => fmtPhone(r.phone) },
      { label: "Причина", cell: (r) => r.reason },
      { label: "С какого времени", cell: (r) => when(r.created_at) },
      { label: "", cell: (r) => button("Убрать", () => api(`/sms/optout/${encodeURIComponent(r.phone)}`, { method: "DELETE" }).then(() => optoutList(box)).catch(toastError), { size: "sm", kind: "ghost" }) },
    ], data.items, { testid: "optout", emptyState: empty("Список пуст", "Сюда попадают номера тех, кто отказался от рассылок.") })));
}

async function newMailing(info) {
  const pipelines = (await api("/pipelines")).items;
  const stages = pipelines.flatMap((p) => p.stages.map((s) => [`${p.id}:${s}`, `${p.name} — ${s}`]));
  const text = h("textarea", { name: "text", rows: 4, required: true, maxlength: 1000, "data-testid": "mailing-text" });
  const estimate = h("div", { class: "muted", "data-testid": "mailing-estimate", text: "Нажмите «Рассчитать», чтобы увидеть получателей и стоимость." });
  const preview = h("div", { "data-testid": "mailing-preview" });
  const form = () => estimate.closest("form");
  const body = (v) => {
    const filter = {};
    if (v.q) filter.q = v.q;
    if (v.responsible_id) filter.responsible_id = Number(v.responsible_id);
    if (v.stage) { const [pid, ...stage] = v.stage.split(":"); filter.pipeline_id = Number(pid); filter.stage = stage.join(":"); }
    return { text: v.text, ...(v.sender ? { sender: v.sender } : {}), filter: Object.keys(filter).length ? filter : { q: "" }, ...(v.scheduled_at ? { scheduled_at: localInputToIso(v.scheduled_at) } : {}) };
  };
  const values = () => Object.fromEntries([...new FormData(form()).entries()].map(([k, v]) => [k, String(v).trim()]));
  const calculate = async () => {
    try {
      const e = await api("/sms/mailings/preview", { method: "POST", body: body(values()) });
      fill(estimate, h("b", { text: `${e.recipients} ${plural(e.recipients, "получатель", "получателя", "получателей")}` }),
        ` · ${e.sms_total} СМС (${e.sms_total !== e.segments * e.recipients ? "до " : ""}${e.segments} на каждого) · ≈ ${money(e.cost)}${e.cost_source === "tariff" ? " по тарифу" : ""}`,
        e.opted_out ? ` · отказались: ${e.opted_out}` : "", e.without_phone ? ` · без номера: ${e.without_phone}` : "",
        e.balance == null ? "" : ` · баланс ${money(e.balance)}`, e.enough === false ? h("b", { class: "form-error", text: " — не хватает денег" }) : "");
      showPreview(preview, e.preview);
    } catch (err) { estimate.textContent = err.message; fill(preview); }
  };
  return formDialog("Новая СМС-рассылка", [
    field("Название (для себя)", h("input", { name: "name", required: true, "data-testid": "mailing-name" })),
    h("p", { class: "muted small", text: "Кому: клиенты с номером телефона, по условиям ниже (пусто — все)." }),
    h("div", { class: "field-row" },
      field("Имя или часть имени", h("input", { name: "q", "data-testid": "mailing-q" })),
      field("Ответственный", select("responsible_id", [["", "любой"], ...session.employees.map((e) => [e.id, e.name])], ""))),
    field("Этап активной сделки", select("stage", [["", "любой"], ...stages], "")),
    field("Текст сообщения", text, { hint: "Поля клиента подставляются каждому получателю; {имя|клиент} — «клиент», если имени нет. Счётчик считает текст как написан, «Рассчитать» — каждое СМС." }),
    counted(text), fieldButtons(text, info.placeholders || []),
    h("div", { class: "field-row" },
      field("Имя отправителя", select("sender", info.senders.map((s) => [s, s]), info.senders[0] || "")),
      field("Дата и время", h("input", { name: "scheduled_at", type: "datetime-local", "aria-label": "Дата и время" }))),
    h("div", { class: "btn-row" }, button("Рассчитать", calculate, { testid: "mailing-calc" })), estimate, preview,
  ], { submit: "Создать рассылку", testid: "mailing-dialog", onSubmit: (v) => api("/sms/mailings", { method: "POST", body: { name: v.name, ...body(v) } }) });
}

// The client's fields as buttons that put {поле} where the cursor is.
function fieldButtons(textarea, fields) {
  const put = (token) => {
    textarea.setRangeText(token, textarea.selectionStart, textarea.selectionEnd, "end");
    textarea.focus();
    textarea.dispatchEvent(new Event("input"));
  };
  return h("div", { class: "btn-row", "data-testid": "mailing-fields" }, h("span", { class: "muted small", text: "Поля:" }),
    fields.map((f) => h("button", { type: "button", class: "btn btn-sm btn-ghost", title: f.description, onclick: () => put(`{${f.name}}`) }, `{${f.name}}`)));
}

// The first recipient's SMS as it will go, after «Рассчитать».
function showPreview(box, first) {
  if (!first) { fill(box); return; }
  fill(box, h("div", { class: "muted small", text: `Так получит первый (${fmtPhone(first.phone)}), ${first.segments} СМС:` }),
    h("p", { class: "pre panel", "data-testid": "mailing-preview-text", text: first.text }));
}

async function showMailing(view, id, info) {
  const box = h("div", { "data-testid": "mailing" }, loading());
  fill(view, h("p", {}, h("a", { href: "#/sms", text: "← Все рассылки" })), box);
  const load = async () => {
    let m;
    try { m = await api(`/sms/mailings/${id}?per_page=200`); } catch (err) { fill(box, failure(err, load)); return; }
    const act = (action) => api(`/sms/mailings/${id}/${action}`, { method: "POST" }).then(load).catch(toastError);
    const counts = Object.entries(m.counts).map(([s, n]) => h("span", { class: "btn-row" }, smsBadge(s), h("b", { text: String(n) })));
    fill(box, h("section", { class: "panel" },
      h("div", { class: "panel-title" }, h("h1", { text: m.name }), stateBadge(m)),
      h("p", { class: "pre", text: m.text }),
      h("dl", { class: "kv" },
        h("dt", { text: "Имя отправителя" }), h("dd", { text: m.sender || "по умолчанию" }),
        h("dt", { text: "Дата и время" }), h("dd", { text: when(m.scheduled_at) }),
        h("dt", { text: "Получатели" }), h("dd", { text: `${m.recipients}, по ${m.segments} СМС` }),
        h("dt", { text: "Оценка / потрачено" }), h("dd", { text: `${m.estimate == null ? "—" : money(m.estimate)} / ${money(m.spent)}` }),
        m.reason ? [h("dt", { text: "Причина паузы" }), h("dd", { class: "form-error", text: m.reason })] : null),
      h("div", { class: "btn-row", "data-testid": "mailing-counts" }, counts),
      h("div", { class: "btn-row" },
        m.state === "active" ? button("Приостановить", () => act("pause"), { testid: "mailing-pause" }) : null,
        m.state === "paused" ? button("Продолжить", () => act("resume"), { kind: "primary", testid: "mailing-resume" }) : null,
        ["active", "paused"].includes(m.state) ? button("Отменить", () => act("cancel"), { kind: "danger", testid: "mailing-cancel" }) : null)),
    h("section", { class: "panel" }, h("h2", { text: "Получатели" }), table([
      { label: "Клиент", cell: (r) => (r.client_id ? h("a", { href: `#/client/${r.client_id}`, text: r.client_name || "Без имени" }) : "") },
      { label: "Номер", cell: (r) => fmtPhone(r.phone) },
      { label: "Статус", cell: (r) => h("span", { title: r.detail || "" }, smsBadge(r.status)) },
      { label: "Отправлено", cell: (r) => when(r.sent_at) },
      { label: "Стоимость", cls: "num", cell: (r) => (r.cost == null ? "" : money(r.cost)) },
    ], m.messages.items, { testid: "mailing-recipients" })));
    // while it is going out, follow it (the list refreshes itself too, every 15 s)
    if (m.state === "active" && box.isConnected) setTimeout(() => box.isConnected && load(), 3000);
  };
  await load();
  return load;
}
