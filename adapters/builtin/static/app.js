// The built-in CRM's page: sign-in, calls list, client card, live screen pop. Plain JS, no build.
"use strict";

const state = { me: null, ws: null, wsRetry: 1000, callsPage: 1, feedKind: "", refreshTimer: null };

// -- small helpers -------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

async function api(path, options = {}) {
  const init = { method: options.method || "GET", headers: {}, credentials: "same-origin" };
  if (options.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch("/api/crm" + path, init);
  if (response.status === 401 && path !== "/session") { showLogin(); throw new Error("unauthorized"); }
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    const errors = (data && data.errors || []).map((e) => `${e.field}: ${e.message}`).join("; ");
    throw new Error((data && (data.detail || data.title)) + (errors ? ` (${errors})` : ""));
  }
  return data;
}

function formData(form) {
  const out = {};
  for (const [key, value] of new FormData(form).entries()) if (value !== "") out[key] = value;
  return out;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString("ru-RU", { dateStyle: "short", timeStyle: "short" }) : "";
}

function duration(seconds) {
  const s = Math.round(seconds || 0);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function localToIso(value) { return value ? new Date(value).toISOString() : undefined; }

function mount(templateId) {
  const view = document.getElementById("view");
  view.replaceChildren(document.getElementById(templateId).content.cloneNode(true));
  return view;
}

function toast(text) {
  const box = document.getElementById("popup");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 8000);
}

// -- sign-in and session -----------------------------------------------------------------

function showLogin() {
  state.me = null;
  document.getElementById("top").hidden = true;
  closeLive();
  const view = mount("tpl-login");
  view.querySelector("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      state.me = await api("/session", { method: "POST", body: formData(event.target) });
      startSession();
      location.hash = "#/calls";
      route();
    } catch (err) {
      view.querySelector("#login-error").textContent = "Неверный токен";
    }
  });
}

function startSession() {
  document.getElementById("top").hidden = false;
  const ext = state.me.extension ? ` (${state.me.extension})` : "";
  document.getElementById("me-name").textContent = state.me.name + ext;
  const select = document.getElementById("screen-pop");
  select.value = state.me.screen_pop || "never";
  select.disabled = !state.me.extension;
  openLive();
}

// -- live events and screen pop --------------------------------------------------------------

function openLive() {
  closeLive();
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/api/live`);
  state.ws = ws;
  ws.addEventListener("open", () => { state.wsRetry = 1000; setLive(true); });
  ws.addEventListener("message", (msg) => onLive(JSON.parse(msg.data)));
  ws.addEventListener("close", () => {
    setLive(false);
    if (state.ws === ws && state.me) setTimeout(openLive, state.wsRetry);
    state.wsRetry = Math.min(state.wsRetry * 2, 30000);
  });
}

function closeLive() {
  const ws = state.ws;
  state.ws = null;
  if (ws) ws.close();
  setLive(false);
}

function setLive(on) {
  const dot = document.getElementById("live");
  dot.classList.toggle("off", !on);
  dot.dataset.state = on ? "on" : "off";
}

function onLive(message) {
  const event = message.event;
  const who = (message.client && message.client.name) || event.client_name || message.phone || event.client;
  const kinds = { ringing: "Звонок", answered: "Разговор", transferred: "Перевод", ended: "Завершён" };
  toast(`${kinds[event.kind] || event.kind}: ${who}`);
  if (message.pop) {
    location.hash = message.client ? `#/client/${message.client.id}` : `#/new/${encodeURIComponent(message.phone)}`;
  }
  if (event.kind === "ended") scheduleCallsRefresh();
}

function scheduleCallsRefresh() {
  // The finished call reaches the store through the outbox a moment after "ended".
  for (const delay of [500, 2000, 5000]) setTimeout(() => { if (location.hash.startsWith("#/calls")) loadCalls(); }, delay);
}

// -- calls ---------------------------------------------------------------------------------

function callType(call) {
  if (call.direction === "outbound") return "Исходящий";
  if (call.direction === "internal") return "Внутренний";
  return call.disposition === "answered" ? "Входящий" : "Пропущенный";
}

function showCalls() {
  const view = mount("tpl-calls");
  const form = view.querySelector("#call-filters");
  form.addEventListener("submit", (e) => { e.preventDefault(); state.callsPage = 1; loadCalls(); });
  view.querySelector("#prev").addEventListener("click", () => { if (state.callsPage > 1) { state.callsPage--; loadCalls(); } });
  view.querySelector("#next").addEventListener("click", () => { state.callsPage++; loadCalls(); });
  loadCalls();
  clearInterval(state.refreshTimer);
  state.refreshTimer = setInterval(() => { if (location.hash.startsWith("#/calls")) loadCalls(); }, 10000);
}

async function loadCalls() {
  const form = document.getElementById("call-filters");
  if (!form) return;
  const query = new URLSearchParams({ page: state.callsPage, per_page: 25 });
  const f = formData(form);
  for (const key of ["type", "did", "employee", "appeals", "unsorted", "spam"]) if (f[key]) query.set(key, f[key] === "1" ? "true" : f[key]);
  if (f.from) query.set("from", f.from);
  if (f.to) query.set("to", new Date(new Date(f.to).getTime() + 86400000).toISOString().slice(0, 10));
  const data = await api(`/calls?${query}`);
  const body = document.querySelector("table.calls tbody");
  if (!body) return;
  body.replaceChildren(...data.items.map(callRow));
  const pages = Math.max(1, Math.ceil(data.total / data.per_page));
  document.getElementById("page-info").textContent = `${data.page} / ${pages} (${data.total})`;
}

function callRow(call) {
  const card = call.client_id ? `#/client/${call.client_id}` : `#/new/${encodeURIComponent(call.phone)}`;
  const name = call.client_kind === "client" ? call.client_name : "Новый номер";
  const player = call.recording_url
    ? h("audio", { controls: true, preload: "none", src: call.recording_url, "data-testid": "player" })
    : "";
  return h("tr", { "data-call": call.id, class: call.disposition === "answered" ? "" : "missed" },
    h("td", { text: when(call.started_at) }),
    h("td", { text: callType(call) }),
    h("td", {}, h("a", { href: card, text: call.phone })),
    h("td", { text: name || "" }),
    h("td", { text: call.did || "" }),
    h("td", { text: call.employee || "" }),
    h("td", { text: duration(call.talk_seconds) }),
    h("td", {}, player),
    h("td", { class: "actions" }, callActions(call)),
  );
}

function callActions(call) {
  const act = (label, handler) => h("button", { type: "button", onclick: () => handler().then(loadCalls).catch((e) => toast(e.message)) }, label);
  const post = (path, body) => api(`/calls/${encodeURIComponent(call.id)}/${path}`, { method: "POST", body });
  const buttons = [
    act("Перезвонить", () => post("callback", {}).then(() => toast("Звоним…"))),
    act("Комментарий", async () => { const text = prompt("Комментарий"); if (text) await post("comment", { text }); }),
    act("Задача", async () => { const title = prompt("Задача"); if (title) await post("task", { title }); }),
    act("Сделка", () => post("deal", {})),
    act(call.spam ? "Не спам" : "Спам", () => post("spam", { spam: !call.spam })),
  ];
  if (call.client_kind !== "client") {
    buttons.splice(1, 0, act("Создать клиента", async () => { const name = prompt("Имя клиента"); if (name) await post("client", { name }); }));
  }
  return buttons;
}

// -- client card ---------------------------------------------------------------------------

async function showClient(id) {
  const view = mount("tpl-client");
  const client = await api(`/clients/${id}`);
  fillCard(view, client);
  wireCardForms(view, client);
  loadFeed(client.id);
}

async function showNewCard(phone) {
  const found = await api(`/lookup?phone=${encodeURIComponent(phone)}`);
  if (found.client) { location.replace(`#/client/${found.client.id}`); return; }
  const view = mount("tpl-client");
  const draft = { id: null, kind: "contact", name: "", phones: [found.phone], deals: [], tasks: [] };
  fillCard(view, draft);
  view.querySelector(".card-feed").hidden = true;
  view.querySelector("#deal-form").hidden = true;
  view.querySelector("#client-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const created = await api("/clients", { method: "POST", body: { ...formData(e.target), phones: [found.phone] } }).catch((err) => toast(err.message));
    if (created) location.hash = `#/client/${created.id}`;
  });
  wireAttach(view, found.phone);
}

function fillCard(view, client) {
  view.querySelector("#card-title").textContent = client.name || "Без имени";
  view.querySelector("#card-kind").textContent = client.kind === "contact" ? "новый номер" : "клиент";
  const form = view.querySelector("#client-form");
  for (const key of ["name", "email", "notes"]) form.elements[key].value = client[key] || "";
  view.querySelector("#card-phones").textContent = client.phones.join(", ");
  view.querySelector("#card-responsible").textContent = client.responsible_name || "—";
  view.querySelector("#card-deals").replaceChildren(...client.deals.map((d) =>
    h("li", { text: `${d.title} — ${d.stage}, ${d.value} ${d.currency} (${d.status})` })));
  view.querySelector("#card-tasks").replaceChildren(...client.tasks.map((t) =>
    h("li", { text: `${t.title}${t.deadline ? " до " + when(t.deadline) : ""}` })));
  view.querySelector("#attach-form").hidden = client.kind !== "contact";
}

function wireCardForms(view, client) {
  const reload = () => showClient(client.id);
  const submit = (selector, handler) => view.querySelector(selector).addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await handler(formData(e.target)); e.target.reset(); } catch (err) { toast(err.message); }
  });
  submit("#client-form", async (f) => { await api(`/clients/${client.id}`, { method: "PATCH", body: { name: f.name || "", email: f.email || "", notes: f.notes || "" } }); reload(); });
  submit("#comment-form", async (f) => { await api(`/clients/${client.id}/comments`, { method: "POST", body: { text: f.text } }); loadFeed(client.id); });
  submit("#task-form", async (f) => { await api("/tasks", { method: "POST", body: { title: f.title, client_id: client.id, deadline: localToIso(f.deadline) } }); reload(); });
  submit("#reminder-form", async (f) => { await api(`/clients/${client.id}/reminders`, { method: "POST", body: { text: f.text || "", remind_at: localToIso(f.remind_at) } }); loadFeed(client.id); });
  submit("#deal-form", async (f) => {
    const pipelines = await api("/pipelines");
    await api("/deals", { method: "POST", body: { title: f.title, value: Number(f.value || 0), client_id: client.id, pipeline_id: pipelines.items[0].id } });
    reload();
  });
  for (const button of view.querySelectorAll("#feed-tabs button")) {
    button.addEventListener("click", () => {
      state.feedKind = button.dataset.kind;
      view.querySelectorAll("#feed-tabs button").forEach((b) => b.classList.toggle("on", b === button));
      loadFeed(client.id);
    });
  }
  view.querySelector("#feed-search").addEventListener("input", () => loadFeed(client.id));
  if (client.kind === "contact") wireAttach(view, client.phones[0]);
}

function wireAttach(view, phone) {
  const form = view.querySelector("#attach-form");
  form.hidden = false;
  const input = form.elements.q;
  let matches = [];
  input.addEventListener("input", async () => {
    const data = await api(`/clients?kind=client&per_page=10&q=${encodeURIComponent(input.value)}`);
    matches = data.items;
    form.querySelector("datalist").replaceChildren(...matches.map((c) => h("option", { value: c.name })));
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const target = matches.find((c) => c.name === input.value) || matches[0];
    if (!target) { toast("Клиент не найден"); return; }
    await api(`/clients/${target.id}/phones`, { method: "POST", body: { phone } });
    location.hash = `#/client/${target.id}`;
  });
}

const FEED_LABELS = { call: "Звонок", comment: "Комментарий", task: "Задача", reminder: "Напоминание", deal: "Сделка" };

async function loadFeed(clientId) {
  const query = new URLSearchParams({ per_page: 100 });
  if (state.feedKind) query.set("kind", state.feedKind);
  const search = document.getElementById("feed-search");
  if (search && search.value) query.set("q", search.value);
  const data = await api(`/clients/${clientId}/feed?${query}`);
  const list = document.getElementById("feed");
  if (!list) return;
  list.replaceChildren(...data.items.map(feedItem));
}

const CALL_WORDS = { inbound: "входящий", outbound: "исходящий", internal: "внутренний", answered: "отвечен",
  missed: "пропущен", busy: "занято", cancelled: "отменён", failed: "не прошёл", "no-answer": "без ответа" };

function callText(text) {
  // The store writes "<direction> <disposition> <number>"; shown in the user's words.
  const [direction, disposition, number] = text.split(" ");
  return `${CALL_WORDS[direction] || direction}, ${CALL_WORDS[disposition] || disposition}, ${number || ""}`;
}

function feedItem(item) {
  const extra = item.kind === "call" ? "" : (item.extra || "");
  if (item.kind === "call") item = { ...item, text: callText(item.text) };
  const li = h("li", { class: `feed-${item.kind}`, "data-kind": item.kind },
    h("span", { class: "when", text: when(item.at) }),
    h("b", { text: FEED_LABELS[item.kind] || item.kind }),
    h("span", { class: "text", text: item.text }),
    item.who ? h("span", { class: "who", text: item.who }) : null,
    extra ? h("span", { class: "extra", text: extra }) : null);
  if (item.kind === "call" && item.extra) {
    api(`/calls/${encodeURIComponent(item.ref)}`).then((call) => {
      if (call.recording_url) li.append(h("audio", { controls: true, preload: "none", src: call.recording_url }));
    }).catch(() => {});
  }
  return li;
}

// -- clients and tasks lists ----------------------------------------------------------------

async function showClients() {
  const view = mount("tpl-clients");
  const form = view.querySelector("#client-search");
  const load = async () => {
    const data = await api(`/clients?per_page=100&q=${encodeURIComponent(form.elements.q.value)}`);
    view.querySelector("#clients").replaceChildren(...data.items.map((c) => h("tr", {},
      h("td", {}, h("a", { href: `#/client/${c.id}`, text: c.name || "Без имени" })),
      h("td", { text: c.phones.join(", ") }), h("td", { text: c.company_name || "" }),
      h("td", { text: c.responsible_name || "" }))));
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  load();
}

async function showTasks() {
  const view = mount("tpl-tasks");
  const data = await api("/tasks?mine=1&done=0&per_page=200");
  const now = Date.now();
  const week = now + 7 * 86400000;
  const groups = { "Просроченные": [], "Ближайшие 7 дней": [], "Позже": [] };
  for (const t of data.items) {
    const at = t.deadline ? Date.parse(t.deadline) : Infinity;
    groups[at < now ? "Просроченные" : at <= week ? "Ближайшие 7 дней" : "Позже"].push(t);
  }
  view.querySelector("#task-groups").replaceChildren(...Object.entries(groups).map(([title, items]) =>
    h("div", {}, h("h2", { text: `${title} (${items.length})` }), h("ul", {}, items.map((t) => h("li", {},
      h("button", { type: "button", onclick: async () => { await api(`/tasks/${t.id}`, { method: "PATCH", body: { done: true } }); showTasks(); } }, "✓"),
      ` ${t.title} ${t.deadline ? "— " + when(t.deadline) : ""} `,
      t.client_id ? h("a", { href: `#/client/${t.client_id}`, text: "карточка" }) : null))))));
}

// -- routing --------------------------------------------------------------------------------

function route() {
  if (!state.me) return;
  clearInterval(state.refreshTimer);
  const [, page, arg] = location.hash.split("/");
  const routes = {
    client: () => showClient(arg),
    new: () => showNewCard(decodeURIComponent(arg || "")),
    clients: showClients,
    tasks: showTasks,
  };
  (routes[page] || showCalls)();
}

async function boot() {
  document.getElementById("sign-out").addEventListener("click", async () => {
    await api("/session", { method: "DELETE" }).catch(() => {});
    showLogin();
  });
  document.getElementById("screen-pop").addEventListener("change", async (e) => {
    state.me = await api("/me", { method: "PATCH", body: { screen_pop: e.target.value } });
  });
  window.addEventListener("hashchange", route);
  try {
    state.me = await api("/me");
  } catch (err) {
    return;
  }
  startSession();
  route();
}

boot();
