// Chats between employees (docs/chats.md): the list of conversations on the left, the open one on
// the right with its history (paged back by id), replies, edits, reactions, tasks from messages and
// @mentions; new messages arrive over the live socket.
import { api } from "../api.js";
import { h, fill } from "../dom.js";
import { dayKey, date, initials, localInputToIso, when } from "../format.js";
import { icon } from "../icons.js";
import { onChat } from "../live.js";
import { chatState, setChatUnread } from "../chatnews.js";
import { mentionHelper, withMentions } from "../mentions.js";
import { employeeById, session } from "../shell.js";
import { button, empty, failure, field, formDialog, loading, select, toast, toastError } from "../ui.js";

const REACTIONS = ["👍", "❤️", "😂", "🎉", "👀", "✅"];
const KIND_NAMES = { direct: "Личная беседа", group: "Групповая беседа", channel: "Канал" };
const page = { list: null, pane: null, chats: [], chat: null, messages: [], nextBefore: null, box: null, reply: null, composer: null };

export async function showChats(view, arg) {
  page.list = h("div", { class: "chat-list", "data-testid": "chat-list" }, loading());
  page.pane = h("section", { class: "chat-pane", "data-testid": "chat-pane" });
  fill(view, h("div", { class: "chats", "data-testid": "chats-page" },
    h("aside", { class: "chat-side" },
      h("div", { class: "chat-side-head" }, h("h1", { text: "Чаты" }),
        button("+ Беседа", () => newChat(), { kind: "primary", size: "sm", testid: "new-chat" })),
      page.list),
    page.pane));
  chatState.open = null;
  await loadList();
  const id = Number(arg) || null;
  if (id) await openChat(id);
  else fill(page.pane, empty("Выберите беседу", "Или начните новую: с коллегой, группой или каналом для объявлений.",
    button("+ Новая беседа", () => newChat(), { kind: "primary" })));
}

// -- the list ------------------------------------------------------------------------------------

async function loadList() {
  let data;
  try { data = await api("/chats"); } catch (err) { fill(page.list, failure(err, loadList)); return; }
  page.chats = data.items;
  setChatUnread(data.unread);
  if (!data.items.length) { fill(page.list, h("div", { class: "chat-list-empty muted small", text: "Бесед пока нет" })); return; }
  fill(page.list, data.items.map(listItem));
}

function chatName(c) { return c.kind === "direct" ? (c.partner ? c.partner.name : "Личная беседа") : c.title; }

function chatAvatar(c) {
  if (c.kind === "channel") return h("span", { class: "avatar chat-avatar channel", "aria-hidden": "true" }, "#");
  if (c.kind === "group") return h("span", { class: "avatar chat-avatar group", "aria-hidden": "true" }, initials(c.title));
  return h("span", { class: "avatar chat-avatar", "aria-hidden": "true" }, initials(chatName(c)));
}

function listItem(c) {
  const last = c.last;
  const who = last ? (last.author_id === session.me.id ? "Вы: " : c.kind === "direct" ? "" : `${(last.author_name || "").split(" ")[0]}: `) : "";
  return h("a", { href: `#/chats/${c.id}`, class: `chat-item${page.chat && page.chat.id === c.id ? " on" : ""}${c.unread ? " unread" : ""}${c.muted ? " muted-chat" : ""}`,
    "data-testid": "chat-item", "data-chat": c.id },
    chatAvatar(c),
    h("span", { class: "chat-item-body" },
      h("span", { class: "chat-item-top" }, h("b", { class: "chat-item-name", text: chatName(c) }),
        c.muted ? h("span", { class: "chat-muted", title: "Без звука", "aria-label": "без звука", "data-testid": "chat-muted" }, icon("muted", 13)) : null,
        h("span", { class: "chat-item-time", text: last ? shortTime(last.created_at) : "" })),
      h("span", { class: "chat-item-bottom" },
        h("span", { class: "chat-item-last", text: last ? who + last.text : (c.member ? "Нет сообщений" : "Публичный канал") }),
        c.mentions ? h("span", { class: "count mention", "data-testid": "chat-mentions", text: "@" }) : null,
        c.unread ? h("span", { class: "count", "data-testid": "chat-unread", text: String(c.unread) }) : null)));
}

function shortTime(iso) {
  return dayKey(iso) === dayKey(new Date()) ? when(iso).replace("сегодня, ", "") : date(iso).replace(/ \d{4} г\.$/, "");
}

// -- one chat ------------------------------------------------------------------------------------

async function openChat(id) {
  fill(page.pane, loading());
  let chat, history;
  try {
    [chat, history] = await Promise.all([api(`/chats/${id}`), api(`/chats/${id}/messages`)]);
  } catch (err) { fill(page.pane, failure(err, () => openChat(id))); return; }
  Object.assign(page, { chat, messages: history.items, nextBefore: history.next_before, reply: null });
  chatState.open = chat.id;
  page.box = h("div", { class: "chat-messages", "data-testid": "messages", role: "log", "aria-live": "polite" });
  page.composer = composer(chat);
  fill(page.pane, chatHead(chat), page.box, page.composer);
  drawMessages();
  page.box.scrollTop = page.box.scrollHeight;
  for (const a of page.list.querySelectorAll(".chat-item")) a.classList.toggle("on", Number(a.dataset.chat) === chat.id);
  await markRead();
}

function chatHead(chat) {
  const people = chat.members.map((m) => m.name.split(" ")[0]).join(", ");
  const sub = chat.kind === "direct" ? "Личная беседа" : `${KIND_NAMES[chat.kind]}${chat.public ? ", публичный" : ""} · ${chat.members.length} уч.: ${people}`;
  const subscribe = !chat.member ? button("Подписаться", () => join(chat), { kind: "primary", size: "sm", testid: "join-channel" }) : null;
  const add = chat.may_manage ? button("+ Участник", () => addMember(chat), { size: "sm", testid: "add-member" }) : null;
  const rename = chat.may_manage && chat.kind !== "direct" ? button("Переименовать", () => renameChat(chat), { size: "sm", testid: "chat-rename" }) : null;
  const mute = chat.member ? button(chat.muted ? "Включить звук" : "Без звука", () => change(chat, { muted: !chat.muted }),
    { size: "sm", kind: "ghost", testid: "chat-mute", title: chat.muted ? "" : "Сообщения не попадут в счётчик; упоминания — по-прежнему" }) : null;
  const named = { ...chat, partner: chat.members.find((m) => m.id !== session.me.id) };
  return h("header", { class: "chat-head" }, chatAvatar(named),
    h("div", { class: "chat-head-text" }, h("h2", { text: chatName(named), "data-testid": "chat-title" }),
      h("div", { class: "muted small", text: chat.muted ? `${sub} · без звука` : sub })),
    h("div", { class: "btn-row" }, add, rename, mute, subscribe));
}

async function change(chat, body) {
  try { await api(`/chats/${chat.id}`, { method: "PATCH", body }); await loadList(); await openChat(chat.id); }
  catch (err) { toastError(err); }
}

async function renameChat(chat) {
  const v = await formDialog("Название беседы", [field("Название", h("input", { name: "title", value: chat.title, required: true, maxlength: 80, "data-testid": "chat-title-input" }))],
    { submit: "Сохранить", onSubmit: (values) => api(`/chats/${chat.id}`, { method: "PATCH", body: { title: values.title } }) });
  if (v) { await loadList(); await openChat(chat.id); }
}

function drawMessages() {
  const nodes = [];
  if (page.nextBefore) nodes.push(h("div", { class: "chat-earlier" }, button("Показать ранние сообщения", loadEarlier, { size: "sm", testid: "load-earlier" })));
  let day = null, prev = null;
  for (const m of page.messages) {
    const key = dayKey(m.created_at);
    if (key !== day) { nodes.push(h("div", { class: "chat-day" }, h("span", { text: date(m.created_at) }))); day = key; prev = null; }
    nodes.push(messageNode(m, prev && prev.author_id === m.author_id && !m.reply));
    prev = m;
  }
  if (!page.messages.length) nodes.push(empty("Сообщений пока нет", page.chat.may_post ? "Напишите первым." : ""));
  fill(page.box, nodes);
}

async function loadEarlier() {
  const top = page.box.scrollHeight - page.box.scrollTop;
  try {
    const older = await api(`/chats/${page.chat.id}/messages?before=${page.nextBefore}`);
    page.messages = [...older.items, ...page.messages];
    page.nextBefore = older.next_before;
    drawMessages();
    page.box.scrollTop = page.box.scrollHeight - top;  // stay where the reader was
  } catch (err) { toastError(err); }
}

function messageNode(m, follows) {
  const mine = m.author_id === session.me.id;
  return h("div", { class: `msg${mine ? " mine" : ""}${follows ? " follows" : ""}${m.mentions.includes(session.me.id) ? " mentions-me" : ""}`,
    "data-testid": "message", "data-message": m.id },
    mine || follows ? h("span", { class: "msg-gutter" }) : h("span", { class: "avatar", title: m.author_name }, initials(m.author_name)),
    h("div", { class: "msg-bubble" },
      !mine && !follows ? h("div", { class: "msg-author", text: m.author_name || "Бывший сотрудник" }) : null,
      m.reply ? h("div", { class: "msg-quote", "data-testid": "reply-quote" }, h("b", { text: m.reply.author_name || "" }), h("span", { text: m.reply.text })) : null,
      h("div", { class: "msg-text", "data-testid": "message-text" }, ...withMentions(m.text, page.chat.members || [])),
      m.task_id ? h("a", { class: "msg-task", href: "#/tasks", "data-testid": "task-chip" }, icon("task", 14),
        h("span", { text: `Задача: ${m.task_title}` }), m.task_done ? h("span", { class: "badge badge-success", text: "выполнена" }) : null) : null,
      h("div", { class: "msg-foot" },
        h("span", { class: "msg-reactions" }, m.reactions.map((r) => reactionChip(m, r))),
        h("span", { class: "msg-time", title: m.edited_at ? `изменено ${when(m.edited_at)}` : "" },
          m.edited_at ? h("span", { class: "msg-edited", "data-testid": "edited", text: "изменено · " }) : null, shortClock(m.created_at)))),
    actions(m, mine));
}

const shortClock = (iso) => when(iso).replace(/^.*, /, "");

function reactionChip(m, r) {
  const mine = r.by.includes(session.me.id);
  const who = r.by.map((id) => employeeById(id)?.name || "").filter(Boolean).join(", ");
  return h("button", { type: "button", class: `reaction${mine ? " mine" : ""}`, title: who, "data-testid": "reaction", "data-emoji": r.emoji,
    onclick: () => react(m, r.emoji) }, r.emoji, h("span", { text: String(r.by.length) }));
}

function actions(m, mine) {
  const member = page.chat.member;
  const picker = h("span", { class: "msg-picker" }, REACTIONS.map((e) => h("button", { type: "button", class: "msg-emoji", title: "Реакция",
    "data-testid": `react-${e}`, onclick: () => react(m, e) }, e)));
  return h("div", { class: "msg-actions" },
    member ? picker : null,
    page.chat.may_post ? button("Ответить", () => replyTo(m), { kind: "ghost", size: "sm", testid: "reply" }) : null,
    mine ? button("Изменить", () => edit(m), { kind: "ghost", size: "sm", testid: "edit" }) : null,
    !m.task_id ? button("Задача", () => taskFrom(m), { kind: "ghost", size: "sm", testid: "make-task", title: "Поставить задачу из сообщения" }) : null);
}

// -- writing -------------------------------------------------------------------------------------

function composer(chat) {
  if (!chat.may_post) {
    const why = chat.kind === "channel" ? "В канал пишут только его владелец и админы." : "Подпишитесь, чтобы участвовать.";
    return h("div", { class: "chat-composer readonly muted small", "data-testid": "composer-readonly", text: why });
  }
  const text = h("textarea", { rows: 1, placeholder: "Напишите сообщение… @ — упомянуть коллегу, Shift+Enter — новая строка",
    "aria-label": "Сообщение", "data-testid": "composer", maxlength: 4000 });
  const replyBar = h("div", { class: "chat-replybar", hidden: true, "data-testid": "reply-bar" });
  // The box is emptied as the message goes, so the next one can be typed at once; a message that
  // fails comes back into an empty box (with its reply) to be sent again.
  const send = async () => {
    const value = text.value.trim();
    if (!value) return;
    const reply = page.reply;
    text.value = "";
    setReply(null);
    try {
      const body = { text: value, ...(reply ? { reply_to: reply.id } : {}) };
      addMessage(await api(`/chats/${chat.id}/messages`, { method: "POST", body }));
      refreshListSoon();
    } catch (err) {
      if (!text.value) { text.value = value; setReply(reply); }
      toastError(err);
    }
  };
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
    if (e.key === "Escape" && page.reply) setReply(null);
  });
  text.addEventListener("input", () => { text.style.height = "auto"; text.style.height = `${Math.min(text.scrollHeight, 160)}px`; });
  const mentions = mentionHelper(text, () => page.chat.members || []);
  return h("div", { class: "chat-composer" }, replyBar, mentions,
    h("div", { class: "chat-compose-row" }, text, button("Отправить", send, { kind: "primary", testid: "send" })));
}

function setReply(m) {
  page.reply = m;
  const bar = page.composer && page.composer.querySelector(".chat-replybar");
  if (!bar) return;
  bar.hidden = !m;
  if (m) fill(bar, h("div", { class: "msg-quote" }, h("b", { text: `Ответ ${m.author_name || ""}` }), h("span", { text: m.text.slice(0, 140) })),
    button(icon("close", 14), () => setReply(null), { kind: "ghost", size: "sm", title: "Не отвечать" }));
}

function replyTo(m) {
  setReply(m);
  const input = page.composer.querySelector("textarea");
  if (input) input.focus();
}

async function edit(m) {
  const v = await formDialog("Изменить сообщение", [
    field("Текст", h("textarea", { name: "text", rows: 4, required: true, maxlength: 4000, value: m.text, "data-testid": "edit-text" })),
  ], { submit: "Сохранить", testid: "edit-dialog", onSubmit: (values) => api(`/chats/messages/${m.id}`, { method: "PATCH", body: { text: values.text } }) });
  if (v) replaceMessage(v);
}

async function react(m, emoji) {
  try { replaceMessage(await api(`/chats/messages/${m.id}/reactions`, { method: "POST", body: { emoji } })); } catch (err) { toastError(err); }
}

async function taskFrom(m) {
  const first = m.text.split("\n").find((line) => line.trim()) || "Задача из чата";
  const made = await formDialog("Задача из сообщения", [
    field("Что сделать", h("input", { name: "title", required: true, value: first.slice(0, 200), "data-testid": "task-title" })),
    h("div", { class: "field-row" },
      field("Срок", h("input", { name: "deadline", type: "datetime-local", "data-testid": "task-deadline" })),
      field("Исполнитель", select("assignee_id", session.employees.filter((e) => e.active !== false).map((e) => [e.id, e.name]),
        m.author_id !== session.me.id ? m.author_id : session.me.id, { "data-testid": "task-assignee" }))),
  ], { submit: "Поставить задачу", testid: "task-dialog", onSubmit: (v) => api(`/chats/messages/${m.id}/task`, { method: "POST", body: {
    title: v.title, assignee_id: Number(v.assignee_id), ...(v.deadline ? { deadline: localInputToIso(v.deadline) } : {}) } }) });
  if (!made) return;
  replaceMessage(made.message);
  toast(`«${made.task.title}»`, { title: "Задача поставлена", kind: "success", actions: [["К задачам", () => { location.hash = "#/tasks"; }]] });
}

async function join(chat) {
  try { await api(`/chats/${chat.id}/members`, { method: "POST", body: { employee_id: session.me.id } }); await loadList(); await openChat(chat.id); }
  catch (err) { toastError(err); }
}

async function addMember(chat) {
  const inside = new Set(chat.members.map((m) => m.id));
  const choices = session.employees.filter((e) => !inside.has(e.id) && e.active !== false);
  if (!choices.length) { toast("Все сотрудники уже в беседе"); return; }
  const v = await formDialog("Добавить участника", [field("Сотрудник", select("employee_id", choices.map((e) => [e.id, e.name]), choices[0].id, { "data-testid": "member-pick" }))],
    { submit: "Добавить", onSubmit: (values) => api(`/chats/${chat.id}/members`, { method: "POST", body: { employee_id: Number(values.employee_id) } }) });
  if (v) await openChat(chat.id);
}

async function newChat() {
  const others = session.employees.filter((e) => e.id !== session.me.id && e.active !== false);
  const made = await formDialog("Новая беседа", [
    field("Вид", select("kind", [["direct", "Личная (один на один)"], ["group", "Групповая"], ["channel", "Канал (пишут владелец и админы)"]], "direct", { "data-testid": "chat-kind" })),
    field("Название (для групповой беседы и канала)", h("input", { name: "title", maxlength: 80, "data-testid": "chat-name" })),
    h("fieldset", { class: "chat-people" }, h("legend", { text: "Участники" }),
      others.map((e) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "member", value: e.id, "data-testid": "chat-member", "data-name": e.name }), e.name))),
  ], { submit: "Создать", testid: "chat-dialog", onSubmit: async (v) => {
    const dialog = document.querySelector('[data-testid="chat-dialog"]');
    const ids = [...dialog.querySelectorAll('input[name="member"]:checked')].map((i) => Number(i.value));
    return api("/chats", { method: "POST", body: { kind: v.kind, member_ids: ids, ...(v.kind !== "direct" ? { title: v.title } : {}) } });
  } });
  if (!made) return;
  await loadList();
  location.hash = `#/chats/${made.id}`;
}

// -- what arrives ----------------------------------------------------------------------------------

function addMessage(message) {
  if (page.messages.some((m) => m.id === message.id)) return;
  const atBottom = page.box.scrollHeight - page.box.scrollTop - page.box.clientHeight < 80;
  page.messages.push(message);
  page.messages.sort((a, b) => a.id - b.id);  // answers to quick sends may come back in any order
  drawMessages();
  if (atBottom || message.author_id === session.me.id) page.box.scrollTop = page.box.scrollHeight;
}

function replaceMessage(message) {
  const index = page.messages.findIndex((m) => m.id === message.id);
  if (index < 0) return;
  page.messages[index] = message;
  const old = page.box.querySelector(`[data-message="${message.id}"]`);
  if (old) old.replaceWith(messageNode(message, old.classList.contains("follows")));
}

async function markRead() {
  if (!page.chat || !page.chat.member) return;
  try {
    const read = await api(`/chats/${page.chat.id}/read`, { method: "POST", body: {} });
    setChatUnread(read.unread);
    const item = page.list.querySelector(`[data-chat="${page.chat.id}"]`);
    if (item) { item.classList.remove("unread"); for (const c of item.querySelectorAll(".count")) c.remove(); }
  } catch (err) { /* the mark is set again on the next message */ }
}

let listTimer = null;
function refreshListSoon() { clearTimeout(listTimer); listTimer = setTimeout(() => page.list?.isConnected && loadList(), 200); }

onChat((news) => {
  if (!page.pane?.isConnected) { chatState.open = null; return; }
  if (news === null) { loadList(); if (page.chat) openChat(page.chat.id); return; }
  if (news.event === "read") return;
  const here = page.chat && news.chat_id === page.chat.id;
  if (here && news.event === "message") {
    addMessage(news.message);
    // read at once while on screen; the list then shows no count for the open chat
    (document.hidden ? Promise.resolve() : markRead()).then(refreshListSoon);
    return;
  }
  if (here && (news.event === "edited" || news.event === "reaction")) { replaceMessage(news.message); return; }
  refreshListSoon();
});
