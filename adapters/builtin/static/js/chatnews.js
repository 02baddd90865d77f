// Chat news outside the chats page: the unread badge in the navigation (kept live) and a toast when
// someone @mentions me. The page itself (pages/chats.js) registers to hear which chat is open.
import { api } from "./api.js";
import { $ } from "./dom.js";
import { onChat } from "./live.js";
import { navBadges, session } from "./shell.js";
import { toast } from "./ui.js";

export const chatState = { unread: 0, mentions: 0, open: null };

// Draw the count on the nav's «Чаты» link (the header is drawn again on each page).
export function paintChatBadge() {
  const el = $("#chats-count");
  if (!el) return;
  el.textContent = chatState.mentions ? `@${chatState.unread}` : String(chatState.unread);
  el.hidden = !chatState.unread;
  el.classList.toggle("mention", chatState.mentions > 0);
}

navBadges.chats = paintChatBadge;

export function setChatUnread(counts) {
  chatState.unread = counts.unread || 0;
  chatState.mentions = counts.mentions || 0;
  paintChatBadge();
}

export async function refreshChatUnread() {
  try { setChatUnread(await api("/chats/unread")); } catch (err) { /* the badge waits for the next news */ }
}

let soon = null;
onChat((news) => {
  clearTimeout(soon);
  soon = setTimeout(refreshChatUnread, 150);  // a burst of messages (or the socket back): one request
  if (!news || !session.me) return;
  const mine = news.message && news.message.author_id === session.me.id;
  const mentionsMe = news.event === "message" ? news.message.mentions.includes(session.me.id)
    : news.event === "edited" && (news.new_mentions || []).includes(session.me.id);
  if (mine || !mentionsMe) return;
  const open = () => { location.hash = `#/chats/${news.chat_id}`; };
  const who = news.message.author_name || "Сотрудник";
  const where = news.title && news.title !== who ? ` в «${news.title}»` : "";
  const onScreen = chatState.open === news.chat_id && document.querySelector('[data-testid="chats-page"]');
  if (!onScreen || document.hidden) {
    toast(news.message.text, { title: `${who} упоминает вас${where}`, actions: [["Открыть", open]], testid: "chat-mention" });
  }
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const n = new Notification(`${who} упоминает вас${where}`, { body: news.message.text, tag: `chat:${news.message.id}` });
    n.onclick = () => { window.focus(); open(); n.close(); };
  } catch (err) { /* some browsers allow notifications only from a service worker */ }
});
