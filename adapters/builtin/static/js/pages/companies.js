// Companies: a list with search, «Новая компания» (a name or an INN is enough), and the company
// card with its contacts, all their calls, deals and tasks.
import { api } from "../api.js";
import { h, debounce, fill } from "../dom.js";
import { DEAL_BADGE, DEAL_STATUS, duration, money, phone as fmtPhone, when } from "../format.js";
import { employeeName } from "../shell.js";
import { badge, button, empty, failure, field, formDialog, inplace, loading, pager, table, toast, toastError } from "../ui.js";
import { callKind } from "./calls.js";
import { fieldsBlock } from "../fields.js";

const state = { q: "", page: 1 };

export async function showCompanies(view) {
  const list = h("div", { class: "table-wrap" }, loading());
  const search = h("input", { type: "search", class: "grow", placeholder: "Название или ИНН", value: state.q, "aria-label": "Поиск компаний", "data-testid": "companies-search" });
  search.addEventListener("input", debounce(() => { state.q = search.value.trim(); state.page = 1; load(list); }, 250));
  fill(view, h("div", { class: "page-head" }, h("h1", { text: "Компании" }), button("+ Новая компания", newCompany, { kind: "primary", testid: "new-company" })),
    h("div", { class: "toolbar" }, search), list);
  await load(list);
}

async function load(list) {
  let data;
  try { data = await api(`/companies?page=${state.page}&per_page=25&q=${encodeURIComponent(state.q)}`); }
  catch (err) { fill(list, failure(err, () => load(list))); return; }
  fill(list, table([
    { label: "Компания", cell: (c) => h("a", { class: "cell-main", href: `#/company/${c.id}` }, c.name || `ИНН ${c.inn}`) },
    { label: "ИНН", cell: (c) => c.inn || "—" },
    { label: "Контактов", cls: "num", cell: (c) => String(c.people_count ?? "") },
    { label: "Открытых сделок", cls: "num", cell: (c) => String(c.open_deals ?? "") },
  ], data.items, { testid: "companies", rowAttrs: (c) => ({ "data-company": c.id }),
    emptyState: empty(state.q ? "Ничего не найдено" : "Компаний пока нет", state.q ? "" : "Добавьте компанию: достаточно названия или ИНН.") }),
  pager(data.page, data.per_page, data.total, (p) => { state.page = p; load(list); }));
}

async function newCompany() {
  const created = await formDialog("Новая компания", [
    field("Название", h("input", { name: "name", "data-testid": "company-name" })),
    field("ИНН", h("input", { name: "inn", inputmode: "numeric", "data-testid": "company-inn" }), { hint: "Достаточно названия или ИНН" }),
  ], { submit: "Создать", testid: "company-dialog", onSubmit: (v) => api("/companies", { method: "POST", body: { name: v.name || "", ...(v.inn ? { inn: v.inn } : {}) } }) });
  if (created) location.hash = `#/company/${created.id}`;
}

export async function showCompany(view, id) {
  fill(view, loading());
  const c = await api(`/companies/${id}`);
  const save = async (changes) => { await api(`/companies/${id}`, { method: "PATCH", body: changes }); toast("Сохранено", { kind: "success", timeout: 2000 }); };
  const title = h("h1", { "data-testid": "company-title", text: c.name || `ИНН ${c.inn}` });
  fill(view, h("div", { class: "card-layout", "data-testid": "company-card" },
    h("div", {},
      h("section", { class: "panel" }, h("div", { class: "panel-title" }, title, badge("компания", "info")),
        h("dl", { class: "kv" },
          h("dt", { text: "Название" }), h("dd", {}, inplace(c.name, async (v) => { await save({ name: v }); title.textContent = v; })),
          h("dt", { text: "ИНН" }), h("dd", {}, inplace(c.inn, (v) => save({ inn: v }), { testid: "company-inn-edit" })))),
      fieldsBlock("company", c.id),
      h("section", { class: "panel" }, h("div", { class: "panel-title" }, h("h2", { text: `Контакты (${c.people.length})` })),
        c.people.length ? h("ul", { class: "mini-list", "data-testid": "company-people" }, c.people.map((p) => h("li", {},
          h("a", { href: `#/client/${p.id}` }, p.name || "Новый номер"), h("span", { class: "muted small", text: (p.phones || []).map(fmtPhone).join(", ") }))))
          : h("p", { class: "muted small", text: "Укажите компанию в карточке клиента, и он появится здесь." })),
      h("section", { class: "panel" }, h("h2", { text: "Задачи" }),
        c.tasks.length ? h("ul", { class: "mini-list", "data-testid": "company-tasks" }, c.tasks.map((t) => h("li", {}, t.title,
          h("span", { class: t.deadline && Date.parse(t.deadline) < Date.now() ? "overdue small" : "muted small", text: t.deadline ? when(t.deadline) : "без срока" }))))
          : h("p", { class: "muted small", text: "Открытых задач нет" }))),
    h("div", {},
      h("section", { class: "panel" }, h("h2", { text: "Сделки" }),
        c.deals.length ? h("ul", { class: "mini-list", "data-testid": "company-deals" }, c.deals.map((d) => h("li", {},
          h("a", { href: `#/deals?deal=${d.id}` }, d.title), h("span", { class: "btn-row" }, h("b", { text: money(d.value, d.currency) }),
            badge(d.status === "open" ? d.stage : DEAL_STATUS[d.status], DEAL_BADGE[d.status].replace("badge-", ""))))))
          : h("p", { class: "muted small", text: "Сделок нет" })),
      h("section", { class: "panel" }, h("h2", { text: "Все звонки контактов" }),
        h("div", { class: "table-wrap" }, table([
          { label: "Когда", cell: (x) => when(x.started_at) },
          { label: "Тип", cell: (x) => { const [cls, arrow, text] = callKind(x); return h("span", { class: `call-type ${cls}` }, arrow, " ", text); } },
          { label: "Контакт", cell: (x) => x.client_name || fmtPhone(x.phone) },
          { label: "Сотрудник", cell: (x) => employeeName(x.employee) },
          { label: "Длительность", cls: "num", cell: (x) => (x.talk_seconds ? duration(x.talk_seconds) : "—") },
        ], c.calls, { testid: "company-calls", emptyState: empty("Звонков нет") }))))));
}
