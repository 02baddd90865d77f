// Clients: search as you type, paging, «Новый клиент»; unnamed contact cards are a separate tab.
import { api } from "../api.js";
import { h, debounce, fill } from "../dom.js";
import { phone as fmtPhone, when } from "../format.js";
import { callButton } from "../dial.js";
import { session } from "../shell.js";
import { badge, button, confirmDialog, empty, failure, field, formDialog, loading, pager, table, tabs, toast, toastError } from "../ui.js";
import { describeFilter, shown, superFilter } from "../fields.js";

const state = { page: 1, kind: "client", q: "", filter: [], fields: [], lists: [] };

// The list's columns (chosen by an admin in the settings, at most six) after the name.
const COLUMNS = {
  company: { label: "Компания", cell: (c) => (c.company_id ? h("a", { href: `#/company/${c.company_id}` }, c.company_name) : "") },
  phones: { label: "Телефоны", cell: (c) => h("span", { class: "phone-list" }, c.phones.map((p) => h("span", { class: "phone-link nowrap" }, fmtPhone(p), callButton(p)))) },
  email: { label: "E-mail", cell: (c) => (c.emails || [c.email]).filter(Boolean).join(", ") },
  responsible: { label: "Ответственный", cell: (c) => c.responsible_name || "—" },
  updated_at: { label: "Изменён", cell: (c) => h("span", { class: "nowrap muted", text: when(c.updated_at) }) },
  created_at: { label: "Создан", cell: (c) => h("span", { class: "nowrap muted", text: when(c.created_at) }) },
};

function columnsOf(keys) {
  return keys.map((key) => {
    if (COLUMNS[key]) return COLUMNS[key];
    const f = state.fields.find((x) => `f${x.id}` === key);
    return f ? { label: f.label, cell: (c) => shown(f, (c.custom || {})[key]) } : null;
  }).filter(Boolean);
}

export async function showClients(view) {
  state.page = 1;
  const list = h("div", { class: "table-wrap" }, loading());
  const search = h("input", { type: "search", name: "q", class: "grow", placeholder: "Имя, телефон в любом виде, e-mail", "aria-label": "Поиск клиентов", "data-testid": "clients-search", value: state.q });
  search.addEventListener("input", debounce(() => { state.q = search.value.trim(); state.page = 1; load(list); }, 250));
  const kinds = tabs([["client", "Клиенты"], ["contact", "Новые номера"], ["", "Все"], ["archived", "Архив"]], state.kind, (k) => { state.kind = k; state.page = 1; load(list); }, { testid: "clients-kind" });
  [state.fields, state.lists] = await Promise.all([api("/fields?entity=client").then((r) => r.items), api("/lists").then((r) => r.items)]);
  const chips = h("div", { class: "btn-row filter-chips", "data-testid": "filter-chips" });
  const showChips = () => fill(chips, ...describeFilter(state.fields, state.filter, state.lists).map((text) => badge(text, "info")),
    state.filter.length ? button("Сбросить фильтр", () => { state.filter = []; state.page = 1; showChips(); load(list); }, { size: "sm", kind: "ghost", testid: "filter-reset" }) : null);
  const openFilter = async () => {
    const conditions = await superFilter(state.fields, state.filter, state.lists);
    if (!conditions) return;
    state.filter = conditions;
    state.page = 1;
    showChips();
    load(list);
  };
  fill(view, 
    h("div", { class: "page-head" }, h("h1", { text: "Клиенты" }), button("+ Новый клиент", () => newClient(), { kind: "primary", testid: "new-client" })),
    kinds, h("div", { class: "toolbar" }, search, button("Супер-фильтр", openFilter, { testid: "filter-open" })), chips, list);
  showChips();
  await load(list);
}

async function load(list) {
  const keys = session.settings.client_columns || ["phones", "company", "responsible", "updated_at"];
  const query = new URLSearchParams({ page: state.page, per_page: 25, q: state.q });
  if (state.kind === "archived") query.set("archived", "1");
  else if (state.kind) query.set("kind", state.kind);
  if (state.filter.length) query.set("filter", JSON.stringify(state.filter));
  const custom = keys.filter((k) => k.startsWith("f"));
  if (custom.length) query.set("fields", custom.join(","));
  let data;
  try { data = await api(`/clients?${query}`); } catch (err) { fill(list, failure(err, () => load(list))); return; }
  const columns = [
    { label: "Имя", cell: (c) => h("a", { href: `#/client/${c.id}`, class: "cell-main" }, c.name || "Новый номер") },
    ...columnsOf(keys),
  ];
  if (state.kind === "archived") columns.push({ label: "В архиве с", cell: (c) => h("span", { class: "nowrap muted", text: when(c.archived_at) }) });
  else columns.push({ label: "", cell: (c) => button("В архив", () => archive(c, list), { size: "sm", kind: "ghost", testid: "client-archive", title: "Отправить в архив" }) });
  const go = (page) => { state.page = page; load(list); };
  const none = state.q || state.filter.length ? empty("Никого не нашли", state.q ? `По запросу «${state.q}» клиентов нет.` : "Под условия фильтра клиенты не подходят.")
    : empty("Клиентов пока нет", "Добавьте первого клиента или импортируйте базу в разделе «Аналитика → Импорт».", button("+ Новый клиент", () => newClient(), { kind: "primary" }));
  fill(list, 
    table(columns, data.items, { testid: "clients", widths: "clients", rowAttrs: (c) => ({ "data-client": c.id }), emptyState: h("div", { "data-testid": "clients" }, none) }),
    pager(data.page, data.per_page, data.total, go));
}

// The manual's «Отправить в архив»: for good, and the client's deals go with it.
export async function archive(client, list) {
  const name = client.name || "Новый номер";
  const sure = await confirmDialog("Отправить в архив?", `«${name}» уйдёт в архив навсегда: восстановить карточку нельзя, все сделки клиента будут удалены. Звонки и комментарии останутся в карточке архива.`, { submit: "В архив", danger: true });
  if (!sure) return false;
  try {
    await api(`/clients/${client.id}/archive`, { method: "POST" });
  } catch (err) { toastError(err); return false; }
  toast(`«${name}» в архиве`, { kind: "success", testid: "archived-toast" });
  if (list) await load(list);
  return true;
}

export async function newClient(prefill = {}) {
  const employees = session.employees;
  const created = await formDialog("Новый клиент", [
    field("Имя или название", h("input", { name: "name", required: true, value: prefill.name || "", "data-testid": "new-client-name" })),
    h("div", { class: "field-row" },
      field("Телефон", h("input", { name: "phone", type: "tel", value: prefill.phone || "", placeholder: "+7 916 123-45-67", "data-testid": "new-client-phone" })),
      field("E-mail", h("input", { name: "email", type: "email" }))),
    field("Ответственный", h("select", { name: "responsible_id" }, employees.map((e) => h("option", { value: e.id, selected: e.id === session.me.id }, e.name)))),
  ], { submit: "Создать", testid: "new-client-dialog", onSubmit: (v) => api("/clients", { method: "POST", body: {
    name: v.name, phones: v.phone ? [v.phone] : [], ...(v.email ? { email: v.email } : {}), ...(v.responsible_id ? { responsible_id: Number(v.responsible_id) } : {}) } }) });
  if (created) location.hash = `#/client/${created.id}`;
}
