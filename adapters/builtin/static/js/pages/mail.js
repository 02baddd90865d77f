// The mail section (manual §2.5): letters of the connected mailboxes, newest first; a letter with
// its files and thread; answering; an unknown sender made a client. The admin connects mailboxes
// here (address and password, or an app password when two-factor sign-in is on).
import { api } from "../api.js";
import { h, debounce, fill } from "../dom.js";
import { dateTime, when } from "../format.js";
import { icon } from "../icons.js";
import { mayUse } from "../shell.js";
import { badge, button, confirmDialog, empty, failure, field, formDialog, pager, select, table, tabs, toast, toastError } from "../ui.js";

const STATUS = { queued: ["в очереди", "warning"], sending: ["отправляется", "warning"], sent: ["отправлено", "success"], dead: ["не отправлено", "danger"] };
const SECURITY = [["ssl", "SSL/TLS"], ["starttls", "STARTTLS"], ["none", "без шифрования"]];
const PER_PAGE = 30;

export function statusBadge(status) {
  const [text, kind] = STATUS[status] || [];
  return text ? badge(text, kind) : null;
}

export async function showMail(view) {
  const state = { tab: "all", q: "", page: 1 };
  const list = h("div", { "data-testid": "mail-list" });
  const boxes = h("div", { "data-testid": "mailboxes" });
  const load = async () => {
    const query = new URLSearchParams({ page: state.page, per_page: PER_PAGE });
    if (state.tab === "unmatched") query.set("unmatched", "1");
    if (state.q) query.set("q", state.q);
    try {
      const data = await api(`/mail?${query}`);
      fill(list, table([
        { label: "", cell: (m) => icon(m.direction === "in" ? "mail" : "edit") },
        { label: "Когда", cell: (m) => when(m.sent_at), cls: "nowrap" },
        { label: "От / кому", cell: (m) => m.direction === "in" ? m.from_name || m.from_addr : `→ ${m.to_addrs}` },
        { label: "Тема", cell: (m) => h("span", {}, h("b", { text: m.subject || "(без темы)" }), m.files ? ` · файлов: ${m.files}` : "", h("div", { class: "muted small", text: m.preview || "" })) },
        { label: "Клиент", cell: (m) => m.client_id ? h("a", { href: `#/client/${m.client_id}`, text: m.client_name || "клиент" }) : badge("неизвестный", "warning") },
        { label: "", cell: (m) => statusBadge(m.status) },
      ], data.items, { testid: "letters", rowAttrs: (m) => ({ class: "clickable", "data-letter": m.id, tabindex: 0, onclick: () => openLetter(m.id, load),
        onkeydown: (e) => { if (e.key === "Enter") openLetter(m.id, load); } }),
      emptyState: empty("Писем нет", state.tab === "unmatched" ? "Все письма от клиентов из базы." : "Подключите почту — входящие письма появятся здесь.") }),
      data.total > PER_PAGE ? pager(state.page, PER_PAGE, data.total, (p) => { state.page = p; load(); }) : null);
    } catch (err) { fill(list, failure(err, load)); }
  };
  const loadBoxes = async () => {
    try { fill(boxes, mailboxPanel(await api("/mailboxes"), () => { loadBoxes(); load(); })); } catch (err) { fill(boxes, failure(err, loadBoxes)); }
  };
  fill(view, h("div", { class: "page" },
    h("div", { class: "page-head" }, h("h1", { text: "Почта" }),
      h("span", { class: "btn-row" }, button("Написать письмо", () => writeDialog({ onSent: load }), { kind: "primary", testid: "mail-write" }),
        mayUse("admin") ? button("Шаблоны писем", () => templatesDialog(), { testid: "mail-templates" }) : null,
        mayUse("admin") ? button("Подключить почту", () => connectDialog().then((ok) => ok && loadBoxes()), { testid: "mail-connect" }) : null)),
    boxes,
    h("section", { class: "panel" },
      tabs([["all", "Все письма"], ["unmatched", "От неизвестных"]], state.tab, (t) => { state.tab = t; state.page = 1; load(); }, { testid: "mail-tabs" }),
      h("div", { class: "toolbar" }, h("input", { type: "search", class: "grow", placeholder: "Поиск: тема, отправитель", "aria-label": "Поиск писем", "data-testid": "mail-search",
        oninput: debounce((e) => { state.q = e.target.value.trim(); state.page = 1; load(); }, 250) })),
      list)));
  loadBoxes();
  await load();
  return load;
}

function mailboxPanel(data, reload) {
  const admin = mayUse("admin");
  if (!data.items.length) return h("p", { class: "muted", text: admin ? "Почта не подключена. Нажмите «Подключить почту»." : "Почту подключает администратор." });
  const dead = data.queue.dead || 0;
  return h("section", { class: "panel" }, h("h2", { text: "Подключённые ящики" }),
    dead ? h("p", { class: "form-error", text: `Не отправлено писем: ${dead}. Откройте письмо и нажмите «Отправить снова».` }) : null,
    table([
      { label: "Адрес", cell: (b) => h("b", { text: b.address }) },
      { label: "Доступ", cell: (b) => b.access === "personal" ? "Личный" : "Общий" },
      { label: "Состояние", cell: (b) => !b.enabled ? badge("отключён") : b.status ? h("span", { class: "form-error", "data-testid": "mailbox-status", text: b.status })
        : badge(b.checked_at ? `проверено ${when(b.checked_at)}` : "ждёт проверки", b.checked_at ? "success" : "") },
      { label: "", cell: (b) => h("span", { class: "btn-row" },
        b.enabled ? button("Проверить почту", () => check(b, reload), { size: "sm", testid: "mailbox-check" }) : null,
        admin ? button("Изменить адрес или пароль", () => passwordDialog(b).then((ok) => ok && reload()), { size: "sm", testid: "mailbox-edit" }) : null,
        admin ? button(b.enabled ? "Отключить" : "Включить", () => toggle(b, reload), { size: "sm", testid: "mailbox-toggle" }) : null) },
    ], data.items, { testid: "mailbox-table" }));
}

// Manual §2.5 «Как отключить интеграцию»: the letters stay, new ones stop until it is switched on again.
async function toggle(box, reload) {
  if (box.enabled && !(await confirmDialog("Отключить почту?", `Полученные письма останутся в CRM, новые с ${box.address} перестанут появляться, пока вы снова не включите почту.`, { submit: "Отключить", danger: true }))) return;
  try { await api(`/mailboxes/${box.id}`, { method: "PATCH", body: { enabled: !box.enabled } }); reload(); } catch (err) { toastError(err); }
}

async function check(box, reload) {
  try {
    const result = await api(`/mailboxes/${box.id}/check`, { method: "POST" });
    toast(result.mailbox.status || (result.new ? `Почта проверена: новых писем ${result.new}` : "Почта проверена"), { kind: result.mailbox.status ? "danger" : "success" });
    reload();
  } catch (err) { toastError(err); }
}

async function connectDialog() {
  const hint = (await api("/mailboxes")).hint;
  return formDialog("Подключить почту", [
    field("Адрес электронной почты", h("input", { name: "address", type: "email", required: true, placeholder: "inbox@company.ru", "data-testid": "mailbox-address" })),
    field("Пароль", h("input", { name: "password", type: "password", required: true, autocomplete: "new-password", "data-testid": "mailbox-password" }), { hint }),
    field("Доступ к письмам", select("access", [["common", "Общий — письма видят все"], ["personal", "Личный — кроме переписки с клиентами, письма видны только вам"]], "common")),
    h("details", {}, h("summary", { text: "Серверы (для Яндекса, Mail.ru и Gmail не нужны)" }),
      h("div", { class: "field-row" }, field("IMAP-сервер", h("input", { name: "imap_host", placeholder: "imap.company.ru" })),
        field("Порт", h("input", { name: "imap_port", type: "number", value: "993" })), field("Защита", select("imap_security", SECURITY, "ssl"))),
      h("div", { class: "field-row" }, field("SMTP-сервер", h("input", { name: "smtp_host", placeholder: "smtp.company.ru" })),
        field("Порт", h("input", { name: "smtp_port", type: "number", value: "465" })), field("Защита", select("smtp_security", SECURITY, "ssl"))),
      field("Логин, если не адрес", h("input", { name: "login" }))),
  ], { submit: "Подключить", testid: "mailbox-dialog", onSubmit: async (v) => {
    const body = { address: v.address, password: v.password, access: v.access };
    if (v.access === "personal") body.owner_id = (await api("/me")).id;
    if (v.login) body.login = v.login;
    if (v.imap_host) Object.assign(body, { imap_host: v.imap_host, imap_port: Number(v.imap_port), imap_security: v.imap_security });
    if (v.smtp_host) Object.assign(body, { smtp_host: v.smtp_host, smtp_port: Number(v.smtp_port), smtp_security: v.smtp_security });
    await api("/mailboxes", { method: "POST", body });
    toast("Почта подключена: письма появятся после проверки", { kind: "success" });
    return true;
  } });
}

// Letter templates (admin): name, subject and text with the client's fields as {{поле}}.
async function templatesDialog() {
  const { body } = modal("Шаблоны писем", "templates-dialog");
  const load = async () => {
    const data = await api("/mail-templates");
    const fields = Object.entries(data.placeholders).map(([k, v]) => `{{${k}}} — ${v}`).join(", ");
    const form = h("form", { class: "composer", "data-testid": "template-form", onsubmit: async (e) => {
      e.preventDefault();
      const f = e.target.elements;
      try {
        await api("/mail-templates", { method: "POST", body: { name: f.name.value.trim(), subject: f.subject.value.trim(), body: f.body.value } });
        toast("Шаблон сохранён", { kind: "success", timeout: 2000 });
        load();
      } catch (err) { toastError(err); }
    } },
      h("input", { name: "name", required: true, placeholder: "Название шаблона", "aria-label": "Название шаблона", "data-testid": "template-name" }),
      h("input", { name: "subject", placeholder: "Тема", "aria-label": "Тема", "data-testid": "template-subject" }),
      h("textarea", { name: "body", rows: 5, placeholder: "Текст", "aria-label": "Текст", "data-testid": "template-body" }),
      h("p", { class: "muted small", text: `Поля: ${fields}.` }),
      h("div", { class: "btn-row" }, button("Добавить шаблон", null, { type: "submit", kind: "primary", testid: "template-save" })));
    fill(body,
      data.items.length ? h("ul", { class: "mini-list", "data-testid": "template-list" }, data.items.map((t) => h("li", {},
        h("span", {}, h("b", { text: t.name }), h("div", { class: "muted small", text: t.subject })),
        button("Удалить", () => api(`/mail-templates/${t.id}`, { method: "DELETE" }).then(load).catch(toastError), { size: "sm", kind: "ghost" }))))
        : h("p", { class: "muted", text: "Шаблонов пока нет." }),
      form);
  };
  load().catch((err) => fill(body, failure(err, load)));
}

// Manual §2.5 «Как изменить электронный адрес»: a new address (or the same) and its password.
function passwordDialog(box) {
  return formDialog("Изменить адрес или пароль", [
    field("Адрес электронной почты", h("input", { name: "address", type: "email", required: true, value: box.address, "data-testid": "mailbox-new-address" })),
    field("Пароль (или пароль приложения)", h("input", { name: "password", type: "password", required: true, autocomplete: "new-password" })),
  ], { onSubmit: async (v) => {
    const body = { password: v.password };
    if (v.address.toLowerCase() !== box.address) Object.assign(body, { address: v.address, login: v.address });
    await api(`/mailboxes/${box.id}`, { method: "PATCH", body });
    return true;
  } });
}

// A letter in a dialog: headers, text, files, the thread, and what can be done with it.
export async function openLetter(id, onChange) {
  let letter;
  try { letter = await api(`/mail/${id}`); } catch (err) { toastError(err); return; }
  const { body, close } = modal(letter.subject || "(без темы)", "letter-dialog");
  body.dataset.testid = "letter";
  const changed = () => { close(); if (onChange) onChange(); };
  const actions = h("div", { class: "btn-row" },
    button("Ответить", () => fill(actions, letterForm({ parent: letter, onSent: changed })), { kind: "primary", testid: "letter-reply" }),
    !letter.client_id && letter.direction === "in" ? button("Создать клиента", () => makeClient(letter, changed), { testid: "letter-make-client" }) : null,
    letter.status === "dead" ? button("Отправить снова", () => api(`/mail/${id}/resend`, { method: "POST" }).then(changed).catch(toastError), { testid: "letter-resend" }) : null);
  fill(body,
    h("dl", { class: "kv" },
      h("dt", { text: "От" }), h("dd", { text: letter.direction === "in" ? `${letter.from_name} <${letter.from_addr}>`.trim() : `${letter.employee_name || letter.from_name || ""} <${letter.from_addr}>` }),
      h("dt", { text: "Кому" }), h("dd", { text: letter.to_addrs }),
      h("dt", { text: "Когда" }), h("dd", {}, dateTime(letter.sent_at), " ", statusBadge(letter.status)),
      letter.client_id ? [h("dt", { text: "Клиент" }), h("dd", {}, h("a", { href: `#/client/${letter.client_id}`, onclick: close, text: letter.client_name || "клиент" }))] : null,
      letter.queue && letter.queue.last_error ? [h("dt", { text: "Ошибка" }), h("dd", { class: "form-error", text: `${letter.queue.last_error} (попыток: ${letter.queue.attempts})` })] : null),
    h("div", { class: "letter-text", "data-testid": "letter-body" }, letter.body),
    letter.attachments.length ? h("ul", { class: "mini-list", "data-testid": "letter-files" }, letter.attachments.map((a) => h("li", {},
      a.stored ? h("a", { href: `/api/crm/mail/attachments/${a.id}`, download: a.name, text: a.name }) : h("span", { text: `${a.name} (не сохранён: больше лимита)` }),
      h("span", { class: "muted small", text: `${Math.ceil(a.size / 1024)} КБ` })))) : null,
    letter.thread_letters.length > 1 ? h("details", {}, h("summary", { text: `Переписка: ${letter.thread_letters.length}` }),
      h("ul", { class: "mini-list" }, letter.thread_letters.map((t) => h("li", {}, h("span", { text: `${when(t.sent_at)} ${t.direction === "in" ? "←" : "→"} ${t.subject}` }), statusBadge(t.status))))) : null,
    actions);
}

// A dialog that is not a form (a letter, a letter being written); Esc and ✕ close it.
function modal(title, testid) {
  const body = h("div", { class: "modal-body" });
  const dialog = h("dialog", { class: "modal modal-wide", "data-testid": testid },
    h("div", { class: "modal-head" }, h("h2", { "data-testid": `${testid}-title`, text: title }), button("✕", () => close(), { kind: "ghost", title: "Закрыть" })), body);
  const close = () => { dialog.close(); dialog.remove(); };
  dialog.addEventListener("cancel", (e) => { e.preventDefault(); close(); });
  document.body.append(dialog);
  dialog.showModal();
  return { body, close };
}

async function makeClient(letter, done) {
  const v = await formDialog("Новый клиент", [field("Имя", h("input", { name: "name", required: true, value: letter.from_name || letter.from_addr }))], { submit: "Создать" });
  if (!v) return;
  try {
    const client = await api(`/mail/${letter.id}/client`, { method: "POST", body: { name: v.name } });
    toast(`Клиент создан: ${client.name}`, { kind: "success" });
    done();
    location.hash = `#/client/${client.id}`;
  } catch (err) { toastError(err); }
}

function writeDialog({ client, onSent }) {
  const { body, close } = modal("Новое письмо", "write-dialog");
  fill(body, letterForm({ client, onSent: () => { close(); if (onSent) onSent(); } }));
}

// The form that writes a letter: to a client (from the card), as an answer, or to anyone.
export function letterForm({ client = null, parent = null, onSent }) {
  const to = parent ? (parent.direction === "in" ? parent.from_addr : parent.to_addrs) : (client && client.emails && client.emails[0]) || "";
  const subject = h("input", { name: "subject", placeholder: parent ? `Re: ${parent.subject}` : "Тема", "aria-label": "Тема", "data-testid": "letter-subject-input" });
  const text = h("textarea", { name: "body", rows: 6, required: true, placeholder: "Текст письма", "aria-label": "Текст письма", "data-testid": "letter-text" });
  const files = h("input", { name: "files", type: "file", multiple: true, "aria-label": "Файлы", "data-testid": "letter-files-input" });
  const templates = h("select", { "aria-label": "Шаблон", "data-testid": "letter-template", onchange: () => {
    const t = loaded.find((x) => String(x.id) === templates.value);
    if (t) { subject.value = t.subject; text.value = t.body; }
  } }, h("option", { value: "", text: "— шаблон —" }));
  let loaded = [];
  api("/mail-templates").then((data) => { loaded = data.items; templates.append(...loaded.map((t) => h("option", { value: t.id, text: t.name }))); }).catch(() => {});
  const form = h("form", { class: "composer", "data-testid": "letter-form", onsubmit: async (e) => {
    e.preventDefault();
    const body = { body: text.value };
    if (subject.value.trim()) body.subject = subject.value.trim();
    if (parent) body.reply_to = parent.id;
    if (client) body.client_id = client.id;
    const address = form.elements.to.value.trim();
    if (address) body.to = address.split(/[,;\s]+/).filter(Boolean);
    try {
      body.attachments = await Promise.all([...files.files].map(readFile));
      const sent = await api("/mail", { method: "POST", body });
      toast(sent.status === "sent" ? "Письмо отправлено" : "Письмо в очереди на отправку", { kind: "success" });
      form.reset();
      if (onSent) onSent(sent);
    } catch (err) { toastError(err); }
  } },
    h("input", { name: "to", type: "text", value: to, placeholder: "Кому: адрес", "aria-label": "Кому", "data-testid": "letter-to" }),
    subject, text,
    h("p", { class: "muted small", text: "Поля {{клиент}}, {{компания}}, {{телефон}}, {{email}}, {{ответственный}}, {{сотрудник}} заполнятся из карточки клиента." }),
    h("div", { class: "field-row" }, templates, files),
    h("div", { class: "btn-row" }, button("Отправить", null, { type: "submit", kind: "primary", testid: "letter-send" })));
  return form;
}

async function readFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { name: file.name, type: file.type || "application/octet-stream", data: btoa(binary) };
}

// A letter in the client's feed: direction, state and a button that opens it (to read and answer).
export function mailFeedItem(item, meta) {
  const [direction, status] = String(item.extra || "").split(" ");
  meta.push(h("span", { text: direction === "in" ? "входящее" : "исходящее" }));
  const state = statusBadge(status);
  if (state) meta.push(state);
  meta.push(button("Открыть", () => openLetter(item.ref, () => window.dispatchEvent(new HashChangeEvent("hashchange"))), { size: "sm", testid: "feed-open-letter" }));
}
