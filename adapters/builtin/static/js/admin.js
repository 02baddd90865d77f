// Admins' page: employees (add, role, switch off, reset password, new API token) and the audit log.
import { api } from "./api.js";
import { h, fill } from "./dom.js";
import { dateTime } from "./format.js";
import { loadSession, mayUse, renderHeader } from "./shell.js";
import { button, inplace, pager, table } from "./ui.js";

const ROLES = [["admin", "Администратор"], ["manager", "Менеджер"], ["employee", "Сотрудник"]];
const ACTIONS = {
  create: "создание", change: "изменение", delete: "удаление", "sign-in": "вход", "sign-out": "выход",
  password: "пароль", token: "новый токен", listen: "прослушивание", comments: "комментарий", phones: "номер", reminders: "напоминание",
};
const state = { page: 1 };

const showError = (err) => { document.getElementById("admin-error").textContent = err ? err.message : ""; };

function showSecret(text) {
  const box = document.getElementById("secret");
  box.textContent = text;
  box.hidden = false;
}

const reload = () => Promise.all([loadEmployees(), loadAudit()]).catch(showError);

function act(label, handler, testid) {
  return button(label, () => handler().then(reload).catch(showError), { size: "sm", testid });
}

function roleSelect(e) {
  const select = h("select", { "data-testid": "role", "aria-label": "Роль" },
    ROLES.map(([value, label]) => h("option", { value, selected: value === e.role }, label)));
  select.addEventListener("change", () =>
    api(`/employees/${e.id}`, { method: "PATCH", body: { role: select.value } }).then(reload).catch(showError));
  return select;
}

// A field changed in place; a refusal (a taken extension or login) shows and nothing changes.
function edit(e, name, placeholder = "Не указано") {
  return inplace(e[name] || "", async (value) => {
    await api(`/employees/${e.id}`, { method: "PATCH", body: { [name]: value } });
    await reload();
  }, { testid: `edit-${name}`, placeholder });
}

async function loadEmployees() {
  const data = await api("/employees");
  fill(document.getElementById("employees"), table([
    { label: "Имя", cell: (e) => edit(e, "name") },
    { label: "Внутр.", cell: (e) => edit(e, "extension") },
    { label: "Логин", cell: (e) => edit(e, "login") },
    // Many offices, one CRM: the office whose PBX rings this phone (empty: this CRM's own PBX).
    { label: "Офис (АТС)", cell: (e) => edit(e, "pbx", "эта АТС") },
    { label: "Роль", cell: roleSelect },
    { label: "Доступ", cell: (e) => (e.active ? "есть" : "отключён") },
    { label: "", cell: (e) => [
      act(e.active ? "Отключить" : "Включить", () => api(`/employees/${e.id}`, { method: "PATCH", body: { active: !e.active } }), "toggle"),
      act("Сбросить пароль", async () => {
        const r = await api(`/employees/${e.id}/password`, { method: "POST", body: {} });
        showSecret(`Новый пароль для ${e.login}: ${r.password} — передайте его сотруднику, он показан один раз.`);
      }, "reset"),
      act("Новый токен API", async () => {
        const r = await api(`/employees/${e.id}/token`, { method: "POST" });
        showSecret(`Новый токен API для ${e.name}: ${r.token} — старый больше не действует.`);
      }, "token")] },
  ], data.items, { testid: "employees", rowAttrs: (e) => ({ "data-employee": e.login || e.extension, class: e.active ? "" : "muted" }) }));
}

async function loadAudit() {
  const entity = document.querySelector("[data-testid=audit-entity]").value;
  const query = new URLSearchParams({ page: state.page, per_page: 50 });
  if (entity) query.set("entity", entity);
  const data = await api(`/audit?${query}`);
  fill(document.getElementById("audit"), table([
    { label: "Когда", cell: (a) => dateTime(a.at) },
    { label: "Кто", cell: (a) => a.actor },
    { label: "Действие", cell: (a) => ACTIONS[a.action] || a.action },
    { label: "Запись", cell: (a) => `${a.entity} ${a.entity_id || ""}` },
    { label: "Что изменено", cell: (a) => Object.entries(a.detail || {}).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ") },
    { label: "Адрес", cell: (a) => a.address || "" },
  ], data.items, { testid: "audit" }), pager(data.page, data.per_page, data.total, (page) => { state.page = page; loadAudit().catch(showError); }));
}

async function boot() {
  try { await loadSession(); } catch (err) { location.href = "/crm/"; return; }
  renderHeader("admin", { screenPop: false });
  if (!mayUse("admin")) { showError(new Error("Эта страница — для администраторов")); return; }
  document.getElementById("employees-section").hidden = false;
  document.getElementById("audit-section").hidden = false;
  document.getElementById("add-employee").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = Object.fromEntries(new FormData(event.target).entries());
    try {
      const r = await api("/employees", { method: "POST", body });
      showSecret(`Сотрудник ${r.name} добавлен. Логин: ${r.login}, пароль: ${r.password} — передайте его сотруднику, он показан один раз.`);
      event.target.reset();
      showError(null);
      await reload();
    } catch (err) { showError(err); }
  });
  document.getElementById("audit-filter").addEventListener("submit", (e) => { e.preventDefault(); state.page = 1; loadAudit().catch(showError); });
  await reload();
}

boot();
