// Reminders and tasks that alert at their due time, and comments that @mention me: a toast, a browser
// notification (permission asked once) and the bell's badge count. The server says what is due;
// timers fire on time; a mention pushed over the live socket asks at once (crm.js).
import { api } from "./api.js";
import { when } from "./format.js";
import { setBadge, session } from "./shell.js";
import { toast, toastError } from "./ui.js";

const POLL_MS = 60000;
const alerts = { timers: new Map(), shown: new Set(), poll: null };

export function startAlerts() {
  stopAlerts();
  askPermissionOnce();
  refresh();
  alerts.poll = setInterval(refresh, POLL_MS);
}

export function stopAlerts() {
  clearInterval(alerts.poll);
  for (const t of alerts.timers.values()) clearTimeout(t);
  alerts.timers.clear();
}

function askPermissionOnce() {
  if (!("Notification" in window) || Notification.permission !== "default") return;
  if (localStorage.getItem("crm.notifications.asked")) return;
  localStorage.setItem("crm.notifications.asked", "1");
  Notification.requestPermission().catch(() => {});
}

export async function refresh() {
  if (!session.me) return;
  let data;
  try { data = await api("/alerts"); } catch (err) { return; }
  setBadge(data.count);
  for (const item of data.due) fire(item);
  for (const item of data.upcoming) schedule(item);
}

const TITLES = {
  reminder: () => "Напоминание",
  task: () => "Срок задачи",
  mention: (item) => (item.who ? `${item.who} упоминает вас` : "Вас упомянули"),
};

function key(item) { return `${item.kind}:${item.id}:${item.at}`; }

function schedule(item) {
  const k = key(item);
  if (alerts.timers.has(k) || alerts.shown.has(k)) return;
  const delay = Math.max(0, new Date(item.at).getTime() - Date.now());
  alerts.timers.set(k, setTimeout(() => { alerts.timers.delete(k); fire(item); refresh(); }, Math.min(delay, 2 ** 31 - 1)));
}

function fire(item) {
  const k = key(item);
  if (alerts.shown.has(k)) return;
  alerts.shown.add(k);
  const title = TITLES[item.kind](item);
  const text = `${item.text || "Без текста"}${item.client_name ? " — " + item.client_name : ""}`;
  const open = () => { location.href = item.client_id ? `/crm/#/client/${item.client_id}` : "/crm/#/tasks"; };
  const done = () => (item.kind === "mention" ? api(`/mentions/${item.id}/seen`, { method: "POST" })
    : api(item.kind === "reminder" ? `/reminders/${item.id}` : `/tasks/${item.id}`, { method: "PATCH", body: { done: true } }))
    .then(refresh).catch(toastError);
  const opened = item.kind === "mention" ? () => { open(); done(); } : open;  // a mention read is a mention seen
  toast(`${text} (${when(item.at)})`, { kind: "alert", title, timeout: 0, testid: item.kind === "mention" ? "mention-toast" : "alert-toast",
    actions: [["Открыть", opened], [item.kind === "mention" ? "Прочитано" : "Готово", done]] });
  if ("Notification" in window && Notification.permission === "granted") {
    try {
      const n = new Notification(title, { body: text, tag: k });
      n.onclick = () => { window.focus(); opened(); };
    } catch (err) { /* some browsers allow notifications only from a service worker */ }
  }
}
