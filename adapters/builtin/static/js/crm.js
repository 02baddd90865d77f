// The CRM's single page: sign-in, then the pages by the address after "#/".
import { api } from "./api.js";
import { h, $, fill } from "./dom.js";
import { phone as fmtPhone } from "./format.js";
import { refresh as refreshAlerts, startAlerts, stopAlerts } from "./alerts.js";
import { hideCallPanel } from "./callpanel.js";
import { closeLive, onActivity, onLiveEvent, onNotice, openLive } from "./live.js";
import { refreshChatUnread } from "./chatnews.js";
import { loadSession, mayUse, onUnauthorized, renderHeader, session } from "./shell.js";
import { button, empty, failure, field, toast } from "./ui.js";
import { showCalls } from "./pages/calls.js";
import { showChats } from "./pages/chats.js";
import { cardHints, showClient, showNewCard } from "./pages/card.js";
import { showClients } from "./pages/clients.js";
import { showCompanies, showCompany } from "./pages/companies.js";
import { showDeals } from "./pages/deals.js";
import { showDialer } from "./pages/dialer.js";
import { showFeed } from "./pages/feed.js";
import { showMail } from "./pages/mail.js";
import { showSettings } from "./pages/settings.js";
import { showSms } from "./pages/sms.js";
import { showTasks } from "./pages/tasks.js";

const PAGES = {
  calls: ["calls", showCalls], deals: ["deals", showDeals], clients: ["clients", showClients], client: ["clients", showClient],
  new: ["calls", (view, arg) => showNewCard(view, decodeURIComponent(arg || ""))], companies: ["companies", showCompanies],
  company: ["companies", showCompany], tasks: ["tasks", showTasks], feed: ["feed", showFeed], settings: ["settings", showSettings, "admin"],
  sms: ["sms", showSms, "sees_all"],
  mail: ["mail", showMail],
  dialer: ["dialer", showDialer],
  chats: ["chats", showChats],
};
const app = { refresh: null, timer: null, view: null };

function showLogin() {
  session.me = null;
  closeLive();
  stopAlerts();
  hideCallPanel();
  const top = $("#top");
  if (top) top.remove();
  const error = h("p", { class: "form-error", id: "login-error", "data-testid": "login-error" });
  const form = h("form", { id: "login-form", class: "panel signin" },
    h("h1", { text: "Вход в CRM" }),
    field("Логин", h("input", { name: "login", autocomplete: "username", required: true, "data-testid": "login" })),
    field("Пароль", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true, "data-testid": "password" })),
    error, button("Войти", null, { type: "submit", kind: "primary", testid: "sign-in" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("/session", { method: "POST", body: { login: form.elements.login.value, password: form.elements.password.value }, quiet401: true });
      await start();
      if (!location.hash || location.hash === "#/") location.hash = "#/calls"; else route();
    } catch (err) { error.textContent = err.status === 401 ? "Неверный логин или пароль" : err.message; }
  });
  fill(app.view, form);
}

async function start() {
  await loadSession();
  renderHeader(currentPage()[0], { onSignOut: showLogin });
  openLive();
  startAlerts();
  refreshChatUnread();
}

function currentPage() {
  const [, page] = location.hash.split("/");
  return PAGES[(page || "").split("?")[0]] || PAGES.calls;
}

async function route() {
  if (!session.me) return;
  clearInterval(app.timer);
  app.refresh = null;
  const [, raw, arg] = location.hash.split("/");
  const [page, params] = (raw || "calls").split("?");
  const [nav, show, who] = PAGES[page] || PAGES.calls;
  renderHeader(nav, { onSignOut: showLogin });
  if (who && !mayUse(who)) { fill(app.view, empty("Раздел недоступен", "Он открыт только администраторам.")); return; }
  try {
    const refresh = await show(app.view, arg ? arg.split("?")[0] : params, params);
    if (typeof refresh === "function") {
      app.refresh = refresh;
      // the feed and filed calls are pushed (onActivity); SMS statuses are not, and a safety net for calls
      const every = { sms: 15000, calls: 60000 }[page];
      if (every) app.timer = setInterval(() => { if (!document.hidden) refresh(); }, every);
    }
  } catch (err) {
    if (err.status !== 401) fill(app.view, failure(err, route));
  }
}

onLiveEvent((message) => {
  const event = message.event;
  if (event.client_name && !message.client) cardHints.name[message.phone] = event.client_name;
  if (event.kind === "ringing") notifyInBackground(message);
});

// A call filed (pushed by the server once the outbox delivered it) or the socket back after a drop:
// the page on screen (calls list, a card) shows it; the feed page adds items itself.
onActivity((item) => {
  if (item && item.kind !== "call") return;
  if (!app.refresh || location.hash.startsWith("#/feed")) return;
  clearTimeout(app.soon);
  app.soon = setTimeout(() => app.refresh && app.refresh(), 300);  // a burst of calls: one refresh
});

// A deal I work on changed (someone else moved, closed or edited it): a toast that opens it, and a
// desktop notification while the tab is in the background (muted deals are not sent at all).
onNotice((notice) => {
  if (notice.kind === "mention") { refreshAlerts(); return; }  // the alerts show it, and keep it until read
  const open = () => { location.hash = `#/deals?deal=${notice.deal_id}`; };
  const prefix = `Сделка «${notice.title}»: `;
  const text = notice.text.startsWith(prefix) ? notice.text.slice(prefix.length) : notice.text;
  toast(notice.who ? `${text} — ${notice.who}` : text, { title: `Сделка «${notice.title}»`, actions: [["Открыть", open]], testid: "notice" });
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const n = new Notification(`Сделка «${notice.title}»`, { body: notice.who ? `${notice.text}\n${notice.who}` : notice.text, tag: `deal:${notice.deal_id}` });
    n.onclick = () => { window.focus(); open(); n.close(); };
  } catch (err) { /* some browsers allow notifications only from a service worker */ }
});

// A call ringing while the CRM's tab is in the background: a desktop notification (the permission
// is asked once, with the reminders'); a click brings the tab forward on the caller's card.
function notifyInBackground(message) {
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
  const event = message.event;
  const who = message.client?.name || event.client_name || "";
  const number = fmtPhone(message.phone || event.client);
  try {
    const n = new Notification(event.direction === "outbound" ? "Исходящий звонок" : "Входящий звонок",
      { body: who ? `${who}\n${number}` : number, tag: `call:${event.call_id}` });
    n.onclick = () => { window.focus(); location.hash = message.client ? `#/client/${message.client.id}` : `#/new/${encodeURIComponent(message.phone || event.client)}`; n.close(); };
  } catch (err) { /* some browsers allow notifications only from a service worker */ }
}

async function boot() {
  app.view = $("#view");
  onUnauthorized(showLogin);
  window.addEventListener("hashchange", route);
  try { await start(); } catch (err) { showLogin(); return; }
  route();
}

boot();
