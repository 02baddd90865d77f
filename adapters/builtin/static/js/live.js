// The live call events (WebSocket /api/live): screen pop, the call panel and refreshes; and on the
// same socket the company's feed as it happens («Живая лента»: `{activity: item}` messages).
import { setLive, session } from "./shell.js";
import { showCallPanel } from "./callpanel.js";

const live = { ws: null, retry: 1000, listeners: new Set(), activity: new Set(), notices: new Set(), chats: new Set(), lost: false };

export function onLiveEvent(listener) { live.listeners.add(listener); return () => live.listeners.delete(listener); }

// `listener(item)` for each new feed item; `listener(null)` after the socket came back (items may
// have been missed: reload).
export function onActivity(listener) { live.activity.add(listener); return () => live.activity.delete(listener); }

// `listener(notice)` for each notification meant for the signed-in employee (a deal they work on changed).
export function onNotice(listener) { live.notices.add(listener); return () => live.notices.delete(listener); }

// `listener(news)` for each chat event of mine (`{event, chat_id, message?}`: docs/chats.md);
// `listener(null)` after the socket came back (news may have been missed: reload).
export function onChat(listener) { live.chats.add(listener); return () => live.chats.delete(listener); }

export function openLive() {
  closeLive();
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/api/live`);
  live.ws = ws;
  ws.addEventListener("open", () => {
    live.retry = 1000;
    setLive(true);
    if (live.lost) for (const listener of [...live.activity, ...live.chats]) listener(null);
    live.lost = false;
  });
  ws.addEventListener("message", (msg) => handle(JSON.parse(msg.data)));
  ws.addEventListener("close", () => {
    setLive(false);
    live.lost = true;
    if (live.ws === ws && session.me) setTimeout(openLive, live.retry);
    live.retry = Math.min(live.retry * 2, 30000);
  });
}

export function closeLive() {
  const ws = live.ws;
  live.ws = null;
  if (ws) ws.close();
  setLive(false);
}

function handle(message) {
  if (message.activity) { for (const listener of live.activity) listener(message.activity); return; }
  if (message.notice) { for (const listener of live.notices) listener(message.notice); return; }
  if (message.chat) { for (const listener of live.chats) listener(message.chat); return; }
  showCallPanel(message);
  if (message.pop) {
    const card = message.client ? `#/client/${message.client.id}` : `#/new/${encodeURIComponent(message.phone)}`;
    if (location.pathname === "/crm/") location.hash = card; else location.href = `/crm/${card}`;  // from analytics
  }
  for (const listener of live.listeners) listener(message);
}
