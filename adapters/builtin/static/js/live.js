// The live call events (WebSocket /api/live): screen pop, the call panel and refreshes.
import { setLive, session } from "./shell.js";
import { showCallPanel } from "./callpanel.js";

const live = { ws: null, retry: 1000, listeners: new Set() };

export function onLiveEvent(listener) { live.listeners.add(listener); return () => live.listeners.delete(listener); }

export function openLive() {
  closeLive();
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/api/live`);
  live.ws = ws;
  ws.addEventListener("open", () => { live.retry = 1000; setLive(true); });
  ws.addEventListener("message", (msg) => handle(JSON.parse(msg.data)));
  ws.addEventListener("close", () => {
    setLive(false);
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
  showCallPanel(message);
  if (message.pop) {
    const card = message.client ? `#/client/${message.client.id}` : `#/new/${encodeURIComponent(message.phone)}`;
    if (location.pathname === "/crm/") location.hash = card; else location.href = `/crm/${card}`;  // from analytics
  }
  for (const listener of live.listeners) listener(message);
}
