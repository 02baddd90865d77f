// The frame of every page: header with navigation by role, search, alerts bell, live status, session.
import { ApiError, api, requestHeaders, whenUnauthorized } from "./api.js";
import { h, $, debounce, fill } from "./dom.js";
import { initials, phone as fmtPhone, setTimeZone } from "./format.js";
import { icon } from "./icons.js";
import { button, toast, toastError } from "./ui.js";

export const session = { me: null, settings: { timezone: "", missed_call_task: true }, employees: [] };

// [hash or path, label, who sees it]
const NAV = [
  ["/crm/#/calls", "Звонки", "all", "calls"],
  ["/crm/#/deals", "Сделки", "all", "deals"],
  ["/crm/#/clients", "Клиенты", "all", "clients"],
  ["/crm/#/companies", "Компании", "all", "companies"],
  ["/crm/#/tasks", "Задачи", "all", "tasks"],
  ["/crm/#/feed", "Лента", "all", "feed"],
  ["/crm/#/chats", "Чаты", "all", "chats"],
  ["/crm/#/sms", "СМС-рассылки", "sees_all", "sms"],
  ["/crm/#/mail", "Почта", "all", "mail"],
  ["/crm/#/dialer", "Обзвоны", "all", "dialer"],
  ["/crm/analytics", "Аналитика", "sees_all", "analytics"],
  ["/crm/#/settings", "Настройки", "admin", "settings"],
  ["/crm/admin", "Сотрудники", "admin", "admin"],
];

// Counts drawn on nav links after each header (key → paint function), e.g. the chats' unread.
export const navBadges = {};

export function mayUse(who) {
  const me = session.me || {};
  if (who === "admin") return me.role === "admin";
  if (who === "sees_all") return me.role === "admin" || me.role === "manager";
  return true;
}

export function employeeName(extension) {
  const e = session.employees.find((x) => x.extension === String(extension));
  return e ? e.name : extension ? `вн. ${extension}` : "";
}

export function employeeById(id) { return session.employees.find((x) => x.id === id) || null; }

export async function loadSession() {
  // /session answers 200 either way, so an anonymous visit logs no 401; the CSRF token it hands
  // out goes with every change the pages make.
  const state = await api("/session");
  if (!state.signed_in) throw new ApiError(401, "Нужно войти");
  session.me = state.me;
  requestHeaders["X-CSRF-Token"] = state.csrf || "";
  const [settings, employees] = await Promise.all([
    api("/settings").catch(() => session.settings),
    api("/employees").catch(() => ({ items: [] })),
  ]);
  session.settings = settings;
  session.employees = employees.items;
  setTimeZone(settings.timezone);
  return session.me;
}

export function renderHeader(active, { onSignOut, screenPop = true } = {}) {
  const me = session.me;
  const nav = h("nav", { class: "mainnav", "aria-label": "Разделы" }, NAV.filter(([, , who]) => mayUse(who)).map(([href, label, , key]) =>
    h("a", { href, class: key === active ? "on" : "", "aria-current": key === active ? "page" : null, "data-testid": `nav-${key}` }, label,
      key === "chats" ? h("span", { class: "count nav-count", id: "chats-count", "data-testid": "chats-unread", hidden: true }) : null)));
  const pop = h("select", { id: "screen-pop", "data-testid": "screen-pop", "aria-label": "Карточка клиента при звонке", disabled: !me.extension },
    [["never", "не открывать"], ["ring", "при звонке"], ["answer", "при ответе"]].map(([v, t]) =>
      h("option", { value: v, selected: v === (me.screen_pop || "never") }, t)));
  pop.addEventListener("change", async () => {
    try { session.me = await api("/me", { method: "PATCH", body: { screen_pop: pop.value } }); toast("Настройка сохранена", { kind: "success", timeout: 2500 }); }
    catch (err) { toastError(err); }
  });
  const header = h("header", { class: "topbar", id: "top" },
    h("a", { class: "brand", href: "/crm/#/calls" }, "MikoPBX ", h("small", {}, "CRM")),
    nav,
    searchBox(),
    h("div", { class: "me" },
      h("span", { class: `dot ${liveOn ? "on" : ""}`, id: "live", "data-testid": "live", "data-state": liveOn ? "on" : "off",
        title: liveOn ? "Живые события звонков: подключено" : "Живые события звонков: нет связи" }),
      h("a", { class: "btn btn-sm bell", href: "/crm/#/tasks", id: "bell", "data-testid": "bell", title: "Задачи и напоминания" }, icon("bell", 18),
        h("span", { class: "count", id: "bell-count", "data-testid": "bell-count", hidden: true }, "0")),
      meMenu(me, screenPop ? pop : null, onSignOut)));
  const old = $("#top");
  if (old) old.replaceWith(header); else document.body.prepend(header);
  for (const paint of Object.values(navBadges)) paint();
  return header;
}

const ROLE_NAMES = { admin: "Администратор", manager: "Менеджер", employee: "Сотрудник" };

// The signed-in person's menu: who, role, when the card opens on a call, sign out.
function meMenu(me, pop, onSignOut) {
  const details = h("details", { class: "menu me-menu", "data-testid": "me-menu" },
    h("summary", { class: "btn btn-sm", title: me.name, "aria-label": `Профиль: ${me.name}` },
      h("span", { class: "avatar" }, initials(me.name)), h("span", { class: "me-short", text: me.name.split(" ")[0] })),
    h("div", { class: "menu-list me-panel" },
      h("div", { class: "me-name", id: "me-name", "data-testid": "me-name" }, me.name + (me.extension ? ` (${me.extension})` : "")),
      h("div", { class: "muted small", text: ROLE_NAMES[me.role] || me.role }),
      pop ? h("label", { class: "field", style: "margin-top:12px" }, h("span", { text: "Карточка клиента открывается" }), pop) : null));
  document.addEventListener("click", (e) => { if (!details.contains(e.target)) details.open = false; });
  const out = button("Выйти", async () => {
    await api("/session", { method: "DELETE" }).catch(() => {});
    if (onSignOut) onSignOut(); else location.href = "/crm/";
  }, { size: "sm", testid: "sign-out" });
  return [details, out];
}

let liveOn = false; // kept across page changes: the header is drawn again on each

export function setLive(on) {
  liveOn = on;
  const dot = $("#live");
  if (!dot) return;
  dot.classList.toggle("on", on);
  dot.dataset.state = on ? "on" : "off";
  dot.title = on ? "Живые события звонков: подключено" : "Живые события звонков: нет связи";
}

export function setBadge(count) {
  const el = $("#bell-count");
  if (!el) return;
  el.textContent = String(count);
  el.hidden = !count;
  document.title = (count ? `(${count}) ` : "") + document.title.replace(/^\(\d+\) /, "");
}

// -- search: one box for names, any spelling of a phone number, companies, INN, e-mail -------

function searchBox() {
  const input = h("input", { type: "search", placeholder: "Поиск: имя, телефон, компания, ИНН, e-mail", "aria-label": "Поиск",
    "data-testid": "search", autocomplete: "off" });
  const results = h("div", { class: "search-results", "data-testid": "search-results", hidden: true, role: "listbox" });
  let seq = 0;
  const run = debounce(async () => {
    const q = input.value.trim();
    const mine = ++seq;
    if (q.length < 2) { results.hidden = true; return; }
    try {
      const data = await api(`/search?q=${encodeURIComponent(q)}`);
      if (mine !== seq) return;
      fill(results, ...searchItems(data));
      results.hidden = false;
    } catch (err) { if (err.status !== 401) toastError(err); }
  }, 150);
  input.addEventListener("input", run);
  input.addEventListener("keydown", (event) => {
    const links = [...results.querySelectorAll("a")];
    const index = links.findIndex((a) => a.classList.contains("active"));
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = links[(index + (event.key === "ArrowDown" ? 1 : links.length - 1) + (index < 0 && event.key === "ArrowUp" ? 1 : 0)) % Math.max(1, links.length)];
      links.forEach((a) => a.classList.toggle("active", a === next));
    } else if (event.key === "Enter") {
      const target = links[Math.max(0, index)];
      if (target) { event.preventDefault(); location.href = target.href; close(); }
    } else if (event.key === "Escape") close();
  });
  const close = () => { results.hidden = true; input.value = ""; input.blur(); };
  results.addEventListener("click", (event) => { if (event.target.closest("a")) close(); });
  document.addEventListener("click", (event) => { if (!event.target.closest(".top-search")) results.hidden = true; });
  return h("div", { class: "top-search" }, input, results);
}

function searchItems(data) {
  const items = [];
  if (data.clients.length) items.push(h("div", { class: "group", text: "Клиенты" }));
  for (const c of data.clients) {
    items.push(h("a", { href: `/crm/#/client/${c.id}`, role: "option", "data-testid": "search-client" },
      h("span", {}, h("b", { text: c.name || "Новый номер" }), c.company_name ? h("span", { class: "muted", text: ` · ${c.company_name}` }) : null),
      h("span", { class: "muted small", text: [c.phones.map(fmtPhone)[0], c.email].filter(Boolean).join(" · ") })));
  }
  if (data.companies.length) items.push(h("div", { class: "group", text: "Компании" }));
  for (const c of data.companies) {
    items.push(h("a", { href: `/crm/#/company/${c.id}`, role: "option", "data-testid": "search-company" },
      h("b", { text: c.name || "Без названия" }), h("span", { class: "muted small", text: c.inn ? `ИНН ${c.inn}` : "" })));
  }
  if (!items.length) items.push(h("div", { class: "state", "data-state": "empty" }, "Ничего не найдено"));
  return items;
}

export function onUnauthorized(handler) { whenUnauthorized(handler); }
