// The client card: fields edited in place, phones and e-mails as lists, company, responsible
// manager, deals, tasks, and the feed (calls with a player, comments, tasks, reminders, deals,
// changes), always shown, for a new number too.
import { api } from "../api.js";
import { h, debounce, fill } from "../dom.js";
import { DEAL_BADGE, DEAL_STATUS, localInputToIso, money, phone as fmtPhone, when } from "../format.js";
import { employeeName, session } from "../shell.js";
import { badge, button, empty, failure, field, formDialog, inplace, loading, select, tabs, toast, toastError } from "../ui.js";
import { icon } from "../icons.js";
import { callButton } from "../dial.js";
import { newTask, taskRow } from "./tasks.js";
import { openDeal } from "./deals.js";
import { letterForm, mailFeedItem } from "./mail.js";
import { archive } from "./clients.js";
import { SMS_FINAL, smsBadge, smsComposer, smsInfo } from "./sms.js";
import { fieldsBlock } from "../fields.js";
import { mentionHelper, withMentions } from "../mentions.js";

const FEED_KINDS = [["", "Всё"], ["call", "Звонки"], ["comment", "Комментарии"], ["task", "Задачи"], ["reminder", "Напоминания"], ["deal", "Сделки"], ["change", "Изменения"], ["sms", "СМС"], ["mail", "Письма"]];
const ICONS = { call: "phone", comment: "comment", task: "task", reminder: "clock", deal: "deal", change: "edit", sms: "comment", mail: "mail" };
const LABELS = { call: "Звонок", comment: "Комментарий", task: "Задача", reminder: "Напоминание", deal: "Сделка", change: "Изменение", sms: "СМС", mail: "Письмо" };
const CALL_WORDS = { inbound: "Входящий", outbound: "Исходящий", internal: "Внутренний", answered: "принят", missed: "пропущен",
  busy: "занято", cancelled: "отменён", failed: "не прошёл", "no-answer": "без ответа" };

export const cardHints = { name: {} }; // caller-ID names seen on live events, by number

// #/new/<phone>: the number's card (a contact card is made for it so the feed is there at once).
export async function showNewCard(view, phone) {
  fill(view, loading());
  const card = await api("/contacts", { method: "POST", body: { phone } });
  location.replace(`#/client/${card.id}`);
}

export async function showClient(view, id) {
  fill(view, loading());
  const [client, sms] = await Promise.all([api(`/clients/${id}`), smsInfo()]);
  const feedBox = h("ol", { class: "feed", id: "feed", "data-testid": "feed" });
  const state = { kind: "", q: "" };
  const reload = () => showClient(view, id);
  const loadFeed = async () => {
    const query = new URLSearchParams({ per_page: 100 });
    if (state.kind) query.set("kind", state.kind);
    if (state.q) query.set("q", state.q);
    try {
      const data = await api(`/clients/${client.id}/feed?${query}`);
      fill(feedBox, ...(data.items.length ? data.items.map(feedItem)
        : [h("li", { class: "state", "data-state": "empty" }, state.kind || state.q ? "Ничего не найдено" : client.kind === "contact" ? "Первое обращение с этого номера. Оставьте комментарий или создайте сделку." : "Пока пусто")]));
      // an SMS on its way: look again shortly, while this card is open
      if (data.items.some((i) => i.kind === "sms" && !SMS_FINAL.has(String(i.extra).split(" ")[0]))) setTimeout(() => feedBox.isConnected && loadFeed(), 3000);
    } catch (err) { fill(feedBox, failure(err, loadFeed)); }
  };
  fill(view, h("div", { class: "card-layout", "data-testid": "client-card", "data-client": client.id },
    client.archived_at ? h("div", {}, infoPanel(client, reload), indicatorsPanel(client))
      : h("div", {}, infoPanel(client, reload), indicatorsPanel(client), client.kind === "contact" ? null : fieldsBlock("client", client.id, { onSaved: loadFeed }), dealsPanel(client, reload), tasksPanel(client, reload)),
    h("div", { class: "panel card-feed" }, h("h2", { text: "Лента" }), client.archived_at ? null : composer(client, loadFeed, reload, sms),
      tabs(FEED_KINDS, state.kind, (k) => { state.kind = k; loadFeed(); }, { testid: "feed-tabs" }),
      h("div", { class: "toolbar" }, h("input", { type: "search", class: "grow", placeholder: "Поиск по ленте", "data-testid": "feed-search", "aria-label": "Поиск по ленте",
        oninput: debounce((e) => { state.q = e.target.value.trim(); loadFeed(); }, 250) })),
      feedBox)));
  loadFeed();
  return loadFeed;
}

// «Блок с индикаторами»: short reports on the client; each person picks which to show (kept in
// this browser) or hides the block.
const INDICATORS = {
  calls: ["Звонков", (f) => String(f.calls)],
  missed: ["Пропущено", (f) => String(f.missed)],
  talk_minutes: ["Минут разговора", (f) => String(f.talk_minutes)],
  last_call: ["Последний звонок", (f) => (f.last_call ? when(f.last_call) : "—")],
  open_deals: ["Сделки в работе", (f) => `${f.open_deals} · ${money(f.open_value)}`],
  won_deals: ["Выиграно", (f) => `${f.won_deals} · ${money(f.won_value)}`],
  open_tasks: ["Открытых задач", (f) => String(f.open_tasks)],
};
const SHOWN_KEY = "crm.card.indicators";

function shownIndicators() {
  try {
    const saved = JSON.parse(localStorage.getItem(SHOWN_KEY) || "null");
    if (saved && Array.isArray(saved.keys)) return saved;
  } catch { /* a damaged preference: the default */ }
  return { hidden: false, keys: ["calls", "missed", "last_call", "open_deals", "won_deals", "open_tasks"] };
}

function indicatorsPanel(client) {
  const figures = client.indicators;
  if (!figures) return null;
  const box = h("section", { class: "panel", "data-testid": "indicators" });
  const render = () => {
    const pref = shownIndicators();
    const head = h("div", { class: "panel-title" }, h("h2", { text: "Показатели" }),
      h("span", { class: "btn-row" },
        pref.hidden ? null : button("Настроить", () => choose().then(render), { size: "sm", kind: "ghost", testid: "indicators-choose" }),
        button(pref.hidden ? "Показать" : "Скрыть", () => { localStorage.setItem(SHOWN_KEY, JSON.stringify({ ...pref, hidden: !pref.hidden })); render(); },
          { size: "sm", kind: "ghost", testid: "indicators-toggle" })));
    const tiles = pref.hidden ? null : h("div", { class: "kpis compact" }, pref.keys.filter((k) => INDICATORS[k]).map((k) =>
      h("div", { class: "kpi", "data-indicator": k }, h("b", { text: INDICATORS[k][1](figures) }), h("span", { text: INDICATORS[k][0] }))));
    fill(box, head, tiles);
  };
  const choose = async () => {
    const pref = shownIndicators();
    const picked = await formDialog("Индикаторы в карточке", Object.entries(INDICATORS).map(([key, [label]]) =>
      h("label", { class: "check field" }, h("input", { type: "checkbox", name: key, checked: pref.keys.includes(key), "data-testid": `indicator-${key}` }), ` ${label}`)),
    { submit: "Сохранить", testid: "indicators-dialog" });
    if (picked) localStorage.setItem(SHOWN_KEY, JSON.stringify({ hidden: false, keys: Object.keys(INDICATORS).filter((k) => picked[k]) }));
  };
  render();
  return box;
}

// An archived card is for reading: the manual's archive cannot be changed or restored.
function archivedPanel(client) {
  return h("section", { class: "panel", "data-testid": "archived-card" },
    h("div", { class: "panel-title" }, h("h1", { "data-testid": "card-title" }, client.name || "Без имени"), badge("в архиве", "warning")),
    h("p", { class: "muted small", text: `В архиве с ${when(client.archived_at)}. Карточку архива не меняют; звонки и комментарии остались в ленте, сделки удалены.` }),
    h("dl", { class: "kv" },
      h("dt", { text: "Телефоны" }), h("dd", { text: client.archived_phones || "—" }),
      h("dt", { text: "Компания" }), h("dd", { text: client.company_name || "—" }),
      h("dt", { text: "Ответственный" }), h("dd", { text: client.responsible_name || "—" })));
}

function infoPanel(client, reload) {
  if (client.archived_at) return archivedPanel(client);
  const save = async (changes) => { await api(`/clients/${client.id}`, { method: "PATCH", body: changes }); toast("Сохранено", { kind: "success", timeout: 2000 }); };
  const contact = client.kind === "contact";
  const hint = cardHints.name[client.phones[0]];
  const title = h("h1", { "data-testid": "card-title" }, client.name || (contact ? "Новый номер" : "Без имени"));
  const nameField = contact
    ? h("form", { class: "toolbar", "data-testid": "save-form", onsubmit: async (e) => {
      e.preventDefault();
      try { await save({ name: e.target.elements.name.value.trim() }); reload(); } catch (err) { toastError(err); }
    } }, h("input", { name: "name", class: "grow", required: true, placeholder: "Имя клиента", value: client.name || hint || "", "data-testid": "client-name", "aria-label": "Имя клиента" }),
      button("Сохранить клиента", null, { type: "submit", kind: "primary", testid: "save-client" }))
    : inplace(client.name, async (v) => { await save({ name: v }); title.textContent = v || "Без имени"; }, { testid: "client-name-edit", placeholder: "Имя" });
  const responsible = select("responsible_id", [["", "— не назначен —"], ...session.employees.map((e) => [e.id, e.name])], client.responsible_id || "",
    { "data-testid": "card-responsible", "aria-label": "Ответственный", onchange: (e) => save({ responsible_id: e.target.value ? Number(e.target.value) : null }).then(reload).catch(toastError) });
  return h("section", { class: "panel" },
    h("div", { class: "panel-title" }, title, h("span", { "data-testid": "card-kind" }, badge(contact ? "новый номер" : "клиент", contact ? "warning" : "info")),
      button("В архив", () => archive(client).then((done) => done && reload()), { size: "sm", kind: "ghost", testid: "card-archive", title: "Отправить в архив" })),
    contact ? h("p", { class: "muted small", text: "Номер ещё не принадлежит клиенту. Сохраните его как нового клиента или добавьте к существующему." }) : null,
    contact ? nameField : null,
    contact ? attachForm(client) : null,
    h("dl", { class: "kv" },
      contact ? null : [h("dt", { text: "Имя" }), h("dd", {}, nameField)],
      h("dt", { text: "Телефоны" }), h("dd", {}, listEditor(client.phones, "phone", client, reload)),
      h("dt", { text: "E-mail" }), h("dd", {}, listEditor(client.emails || [], "email", client, reload)),
      h("dt", { text: "Компания" }), h("dd", {}, companyPicker(client, save, reload)),
      h("dt", { text: "Ответственный" }), h("dd", {}, responsible),
      h("dt", { text: "Списки" }), h("dd", {}, listsEditor(client, reload)),
      h("dt", { text: "Заметки" }), h("dd", {}, inplace(client.notes, (v) => save({ notes: v }), { multiline: true, testid: "client-notes", placeholder: "Добавить заметку" }))));
}

// The lists the client is in (manual: «Для чего нужны списки»): a new name makes a new list.
function listsEditor(client, reload) {
  const lists = client.lists || [];
  const chips = lists.map((l) => h("span", { class: "chip", "data-testid": "client-list" }, l.name,
    button("✕", async () => {
      try { await api(`/clients/${client.id}/lists/${l.id}`, { method: "DELETE" }); reload(); } catch (err) { toastError(err); }
    }, { size: "sm", kind: "ghost", title: `Убрать из списка «${l.name}»` })));
  const known = h("datalist", { id: "client-lists-known" });
  api("/lists").then((r) => fill(known, ...r.items.map((l) => h("option", { value: l.name })))).catch(() => {});
  const input = h("input", { list: "client-lists-known", placeholder: "+ в список", maxlength: 60, "data-testid": "add-list", "aria-label": "Добавить в список" });
  const add = h("form", { class: "item", onsubmit: async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    try { await api(`/clients/${client.id}/lists`, { method: "POST", body: { name } }); reload(); } catch (err) { toastError(err); }
  } }, input, known, button("Добавить", null, { type: "submit", size: "sm" }));
  return h("div", { class: "client-lists" }, chips, add);
}

function listEditor(values, kind, client, reload) {
  const rows = values.map((value) => h("div", { class: "item", "data-testid": `${kind}-item` },
    kind === "phone" ? h("span", { class: "phone-link grow" }, h("span", { class: "nowrap", text: fmtPhone(value) }),
      callButton(value))
      : h("a", { class: "grow", href: `mailto:${value}`, text: value }),
    button("✕", async () => {
      try {
        if (kind === "phone") await api(`/clients/${client.id}/phones/${encodeURIComponent(value)}`, { method: "DELETE" });
        else await api(`/clients/${client.id}`, { method: "PATCH", body: { emails: values.filter((v) => v !== value) } });
        reload();
      } catch (err) { toastError(err); }
    }, { size: "sm", kind: "ghost", title: kind === "phone" ? "Убрать номер" : "Убрать адрес" })));
  const input = h("input", { type: kind === "phone" ? "tel" : "email", placeholder: kind === "phone" ? "+ ещё номер" : "+ ещё адрес", "data-testid": `add-${kind}`, "aria-label": kind === "phone" ? "Добавить номер" : "Добавить e-mail" });
  const add = h("form", { class: "item", onsubmit: async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    try {
      if (kind === "phone") await api(`/clients/${client.id}/phones`, { method: "POST", body: { phone: value } });
      else await api(`/clients/${client.id}`, { method: "PATCH", body: { emails: [...values, value] } });
      reload();
    } catch (err) { toastError(err); }
  } }, input, button("Добавить", null, { type: "submit", size: "sm" }));
  return h("div", { class: "list-edit", "data-testid": kind === "phone" ? "card-phones" : "card-emails", "data-values": values.join(", ") }, rows, add);
}

function companyPicker(client, save, reload) {
  const list = h("datalist", { id: "company-options" });
  const input = h("input", { value: client.company_name || "", list: "company-options", placeholder: "Выбрать или создать", "data-testid": "card-company", "aria-label": "Компания" });
  let found = [];
  input.addEventListener("input", debounce(async () => {
    const data = await api(`/companies?per_page=10&q=${encodeURIComponent(input.value.trim())}`).catch(() => ({ items: [] }));
    found = data.items;
    fill(list, ...found.map((c) => h("option", { value: c.name }, c.inn ? `ИНН ${c.inn}` : "")));
  }, 200));
  input.addEventListener("change", async () => {
    const text = input.value.trim();
    try {
      if (!text) { await save({ company_id: null }); reload(); return; }
      let company = found.find((c) => c.name === text);
      if (!company) {
        const ok = await formDialog("Новая компания", [field("Название", h("input", { name: "name", value: text })), field("ИНН", h("input", { name: "inn", inputmode: "numeric" }))], { submit: "Создать" });
        if (!ok) { input.value = client.company_name || ""; return; }
        company = await api("/companies", { method: "POST", body: { name: ok.name, ...(ok.inn ? { inn: ok.inn } : {}) } });
      }
      await save({ company_id: company.id });
      reload();
    } catch (err) { toastError(err); }
  });
  return h("div", { class: "item", style: "display:flex;gap:4px" }, input, list, client.company_id ? h("a", { class: "btn btn-sm", href: `#/company/${client.company_id}`, title: "Карточка компании" }, "→") : null);
}

function attachForm(client) {
  const list = h("datalist", { id: "attach-list" });
  const input = h("input", { name: "q", class: "grow", placeholder: "Найти клиента", list: "attach-list", "data-testid": "attach-query", "aria-label": "Клиент, к которому добавить номер" });
  let matches = [];
  input.addEventListener("input", debounce(async () => {
    const data = await api(`/clients?kind=client&per_page=10&q=${encodeURIComponent(input.value.trim())}`);
    matches = data.items;
    fill(list, ...matches.map((c) => h("option", { value: c.name })));
  }, 150));
  return h("form", { class: "toolbar", "data-testid": "attach-form", onsubmit: async (e) => {
    e.preventDefault();
    const target = matches.find((c) => c.name === input.value) || matches[0];
    if (!target) { toast("Клиент не найден", { kind: "danger" }); return; }
    try { await api(`/clients/${target.id}/phones`, { method: "POST", body: { phone: client.phones[0] } }); location.hash = `#/client/${target.id}`; }
    catch (err) { toastError(err); }
  } }, input, list, button("Добавить к клиенту", null, { type: "submit", testid: "attach-submit" }));
}

function dealsPanel(client, reload) {
  return h("section", { class: "panel" },
    h("div", { class: "panel-title" }, h("h2", { text: "Сделки" }), button("+ Сделка", () => newDeal(client).then((d) => d && reload()), { size: "sm", testid: "card-new-deal" })),
    client.deals.length ? h("ul", { class: "mini-list", id: "card-deals", "data-testid": "card-deals" }, client.deals.map((d) => h("li", {},
      h("a", { href: `#/deals?deal=${d.id}`, onclick: (e) => { e.preventDefault(); openDeal(d.id, reload); } }, d.title),
      h("span", { class: "btn-row" }, h("b", { class: "num", text: money(d.value, d.currency) }), badge(d.status === "open" ? d.stage : DEAL_STATUS[d.status], DEAL_BADGE[d.status].replace("badge-", ""))))))
      : h("p", { class: "muted small", id: "card-deals", "data-testid": "card-deals", text: "Сделок нет" }));
}

export async function newDeal(client) {
  const pipelines = (await api("/pipelines")).items;
  const v = await formDialog("Новая сделка", [
    field("Название", h("input", { name: "title", required: true, value: client && client.name ? `Сделка с ${client.name}` : "", "data-testid": "deal-title" })),
    h("div", { class: "field-row" },
      field("Сумма, ₽", h("input", { name: "value", type: "number", min: "0", step: "0.01", "data-testid": "deal-value" })),
      field("Воронка", select("pipeline_id", pipelines.map((p) => [p.id, p.name]), pipelines[0].id))),
    field("Ответственный", select("responsible_id", session.employees.map((e) => [e.id, e.name]), session.me.id)),
  ], { submit: "Создать", testid: "deal-dialog" });
  if (!v) return null;
  try {
    return await api("/deals", { method: "POST", body: { title: v.title, value: Number(v.value || 0), pipeline_id: Number(v.pipeline_id),
      responsible_id: Number(v.responsible_id), ...(client ? { client_id: client.id } : {}) } });
  } catch (err) { toastError(err); return null; }
}

function tasksPanel(client, reload) {
  const now = Date.now();
  return h("section", { class: "panel" },
    h("div", { class: "panel-title" }, h("h2", { text: "Задачи" }), button("+ Задача", () => newTask({ client_id: client.id }).then((t) => t && reload()), { size: "sm", testid: "card-new-task" })),
    h("div", { id: "card-tasks" }, client.tasks.length ? client.tasks.map((t) => taskRow(t, t.deadline && Date.parse(t.deadline) < now, reload, { inCard: true }))
      : h("p", { class: "muted small", text: "Открытых задач нет" })));
}

function composer(client, loadFeed, reload, sms) {
  const box = h("div", {});
  const forms = {
    comment: () => {
      const text = h("textarea", { name: "text", rows: 2, required: true, placeholder: "Комментарий к клиенту… @ — упомянуть коллегу", "data-testid": "comment-text", "aria-label": "Комментарий" });
      return h("form", { class: "composer", id: "comment-form", onsubmit: submit(async (f) => {
        const saved = await api(`/clients/${client.id}/comments`, { method: "POST", body: { text: f.text.value } });
        const told = (saved.mentions || []).map((id) => session.employees.find((e) => e.id === id)?.name).filter(Boolean);
        if (told.length) toast(`Уведомлены: ${told.join(", ")}`, { kind: "success", timeout: 3000, testid: "mention-told" });
      }) },
      text, mentionHelper(text, () => session.employees),
      h("div", { class: "btn-row" }, button("Сохранить", null, { type: "submit", kind: "primary", testid: "comment-save" })));
    },
    task: () => h("form", { class: "composer", onsubmit: submit(async (f) => {
      await api("/tasks", { method: "POST", body: { title: f.title.value, client_id: client.id, ...(f.deadline.value ? { deadline: localInputToIso(f.deadline.value) } : {}), assignee_id: Number(f.assignee_id.value) } });
      reload();
    }) },
      h("input", { name: "title", required: true, placeholder: "Что сделать", "aria-label": "Задача", "data-testid": "composer-task" }),
      h("div", { class: "field-row" }, h("input", { name: "deadline", type: "datetime-local", "aria-label": "Срок" }),
        select("assignee_id", session.employees.map((e) => [e.id, e.name]), session.me.id, { "aria-label": "Исполнитель" })),
      h("div", { class: "btn-row" }, button("Создать задачу", null, { type: "submit", kind: "primary" }))),
    reminder: () => h("form", { class: "composer", onsubmit: submit(async (f) => {
      await api(`/clients/${client.id}/reminders`, { method: "POST", body: { text: f.text.value, remind_at: localInputToIso(f.remind_at.value) } });
    }) },
      h("input", { name: "text", placeholder: "О чём напомнить", "aria-label": "Напоминание", "data-testid": "reminder-text" }),
      h("input", { name: "remind_at", type: "datetime-local", required: true, "aria-label": "Когда", "data-testid": "reminder-at" }),
      h("div", { class: "btn-row" }, button("Создать напоминание", null, { type: "submit", kind: "primary", testid: "reminder-save" }))),
    mail: () => letterForm({ client, onSent: loadFeed }),
  };
  function submit(handler) {
    return async (e) => {
      e.preventDefault();
      try { await handler(e.target.elements); e.target.reset(); loadFeed(); toast("Сохранено", { kind: "success", timeout: 2000 }); } catch (err) { toastError(err); }
    };
  }
  if (sms.enabled) forms.sms = () => smsComposer(client, sms, loadFeed);
  const show = (k) => fill(box, forms[k]());
  show("comment");
  return h("div", {}, tabs([["comment", "Комментарий"], ["task", "Задача"], ["reminder", "Напоминание"], ...(sms.enabled ? [["sms", "СМС"]] : []), ["mail", "Письмо"]], "comment", show, { testid: "composer-tabs" }), box);
}

function feedItem(item) {
  const body = h("div", {});
  let text = item.text;
  const meta = [h("span", { text: when(item.at) }), h("b", { text: LABELS[item.kind] || item.kind })];
  if (item.kind === "call") {
    const [direction, disposition, number] = String(item.text).split(" ");
    text = `${CALL_WORDS[direction] || direction}, ${CALL_WORDS[disposition] || disposition} · ${fmtPhone(number)}`;
    if (item.who) meta.push(h("span", { text: employeeName(item.who) }));
    meta.push(callButton(number, { testid: "feed-call-back", label: "Перезвонить" }));
  } else if (item.who) meta.push(h("span", { text: item.kind === "deal" ? DEAL_STATUS[item.who] || item.who : item.who }));
  if (item.kind === "task" && item.extra) {
    const [deadline, done] = item.extra.split(" ");
    if (deadline) meta.push(h("span", { text: `срок ${when(deadline)}` }));
    if (done) meta.push(badge("выполнена", "success"));
  }
  if (item.kind === "mail") mailFeedItem(item, meta);
  if (item.kind === "reminder" && item.extra) meta.push(h("span", { text: `напомнить ${when(item.extra)}` }));
  if (item.kind === "sms") {
    const [status, number, ...detail] = String(item.extra).split(" ");
    meta.push(h("span", { text: fmtPhone(number) }), h("span", { title: detail.join(" "), "data-testid": "sms-status", "data-status": status }, smsBadge(status)));
  }
  if (item.kind === "deal" && item.extra) {
    const parts = item.extra.split(" ");
    const currency = parts.pop();
    const value = parts.pop();
    const stage = parts.join(" ");
    meta.push(h("span", { text: `${stage} · ${money(Number(value), currency)}` }));
  }
  const shown = item.kind === "comment" ? withMentions(String(text), session.employees) : [text];
  body.append(h("div", { class: "meta" }, meta), h("div", { class: "text" }, ...shown));
  const li = h("li", { class: `feed-${item.kind}`, "data-kind": item.kind }, h("span", { class: "icon", "aria-hidden": "true" }, icon(ICONS[item.kind])), body);
  if (item.kind === "call" && item.extra) {
    api(`/calls/${encodeURIComponent(item.ref)}`).then((call) => {
      if (call.recording_url) body.append(h("audio", { controls: true, preload: "none", src: call.recording_url, "data-testid": "feed-player" }));
    }).catch(() => {});
  }
  return li;
}
