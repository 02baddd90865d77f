// Admins' page: employees (add, role, deactivate, reset password, new token) and the audit log.
"use strict";

const admin = { me: null, csrf: "", page: 1 };
const ROLES = { admin: "Администратор", manager: "Менеджер", employee: "Сотрудник" };
const ACTIONS = {
  create: "создание", change: "изменение", delete: "удаление", "sign-in": "вход", "sign-out": "выход",
  password: "смена пароля", token: "новый токен", comments: "комментарий", phones: "номер",
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

async function api(path, options = {}) {
  const init = { method: options.method || "GET", headers: {}, credentials: "same-origin" };
  if (init.method !== "GET") init.headers["X-CSRF-Token"] = admin.csrf;
  if (options.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch("/api/crm" + path, init);
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    const errors = (data && data.errors || []).map((e) => e.message).join("; ");
    throw new Error((data && (data.detail || data.title)) + (errors ? `: ${errors}` : ""));
  }
  return data;
}

function reload() { return Promise.all([loadEmployees(), loadAudit()]); }

function showError(err) { document.getElementById("admin-error").textContent = err ? err.message : ""; }

function showSecret(text) {
  const box = document.getElementById("secret");
  box.textContent = text;
  box.hidden = false;
}

async function loadEmployees() {
  const data = await api("/employees");
  document.querySelector("[data-testid=employees] tbody").replaceChildren(...data.items.map(employeeRow));
}

function employeeRow(e) {
  const act = (label, handler, testid) => el("button", { type: "button", "data-testid": testid, onclick: () => handler().then(reload).catch(showError) }, label);
  const role = el("select", { "data-testid": "role", onchange: (ev) => api(`/employees/${e.id}`, { method: "PATCH", body: { role: ev.target.value } }).then(reload).catch(showError) },
    Object.entries(ROLES).map(([value, label]) => el("option", { value, selected: value === e.role }, label)));
  return el("tr", { "data-employee": e.login || e.extension, class: e.active ? "" : "missed" },
    el("td", { text: e.name }), el("td", { text: e.extension }), el("td", { text: e.login || "—" }),
    el("td", {}, role), el("td", { text: e.active ? "есть" : "отключён" }),
    el("td", { class: "actions" },
      act(e.active ? "Отключить" : "Включить", () => api(`/employees/${e.id}`, { method: "PATCH", body: { active: !e.active } }), "toggle"),
      act("Сбросить пароль", async () => {
        const r = await api(`/employees/${e.id}/password`, { method: "POST", body: {} });
        showSecret(`Новый пароль для ${e.login}: ${r.password} — передайте его сотруднику, он показан один раз.`);
      }, "reset"),
      act("Новый токен API", async () => {
        const r = await api(`/employees/${e.id}/token`, { method: "POST" });
        showSecret(`Новый токен API для ${e.name}: ${r.token} — старый больше не действует.`);
      }, "token")));
}

async function loadAudit() {
  const entity = document.querySelector("[data-testid=audit-entity]").value;
  const query = new URLSearchParams({ page: admin.page, per_page: 50 });
  if (entity) query.set("entity", entity);
  const data = await api(`/audit?${query}`);
  document.querySelector("[data-testid=audit] tbody").replaceChildren(...data.items.map((a) => el("tr", {},
    el("td", { text: new Date(a.at).toLocaleString("ru-RU") }), el("td", { text: a.actor }),
    el("td", { text: ACTIONS[a.action] || a.action }), el("td", { text: `${a.entity} ${a.entity_id || ""}` }),
    el("td", { text: Object.entries(a.detail || {}).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ") }),
    el("td", { text: a.address || "" }))));
  const pages = Math.max(1, Math.ceil(data.total / data.per_page));
  document.getElementById("audit-page").textContent = `${data.page} / ${pages}`;
}

async function boot() {
  const session = await api("/session").catch(() => ({ signed_in: false }));
  if (!session.signed_in) { location.href = "/crm/"; return; }
  admin.me = session.me;
  admin.csrf = session.csrf;
  document.getElementById("me-name").textContent = admin.me.name;
  if (admin.me.role !== "admin") { showError(new Error("Эта страница — для администраторов")); return; }
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
  document.getElementById("audit-filter").addEventListener("submit", (e) => { e.preventDefault(); admin.page = 1; loadAudit().catch(showError); });
  document.getElementById("audit-prev").addEventListener("click", () => { if (admin.page > 1) { admin.page--; loadAudit().catch(showError); } });
  document.getElementById("audit-next").addEventListener("click", () => { admin.page++; loadAudit().catch(showError); });
  await reload().catch(showError);
}

boot();
