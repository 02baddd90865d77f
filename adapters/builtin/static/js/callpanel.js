// The live call panel: who calls (name, company, previous calls, open deals, last comment) and the
// call-control buttons (hang up, transfer blind / attended, call back, comment, task, deal).
import { api } from "./api.js";
import { h, $ } from "./dom.js";
import { money, phone as fmtPhone, when, num } from "./format.js";
import { session } from "./shell.js";
import { button, field, formDialog, select, toast, toastError } from "./ui.js";

const STATE = { ringing: "Входящий звонок", answered: "Разговор", transferred: "Звонок переведён вам", ended: "Звонок завершён" };
const panel = { callId: null, message: null, watch: null };
const WATCH_MS = 10000;

export function showCallPanel(message) {
  const event = message.event;
  if (panel.callId && panel.callId !== event.call_id && event.kind === "ended") return;
  panel.callId = event.call_id;
  panel.message = message;
  const client = message.client;
  const info = message.summary || {};
  const name = (client && client.kind === "client" && client.name) || event.client_name || "Неизвестный номер";
  const ended = event.kind === "ended";
  const outbound = event.direction === "outbound";
  const node = h("aside", { class: "callpanel", id: "callpanel", "data-testid": "callpanel", "data-call": event.call_id, "data-kind": event.kind, "aria-live": "assertive" },
    h("div", { class: "callpanel-head" },
      h("div", { class: "state-line", "data-testid": "callpanel-state" }, ended ? STATE.ended : outbound && event.kind === "answered" ? "Исходящий разговор" : STATE[event.kind] || event.kind),
      h("div", { class: "who", "data-testid": "callpanel-name" }, name),
      h("div", { class: "phone" }, fmtPhone(message.phone || event.client), info.company ? ` · ${info.company.name}` : "")),
    h("div", { class: "callpanel-body" }, summary(client, info)),
    h("div", { class: "callpanel-actions" }, actions(message, ended)));
  const old = $("#callpanel");
  if (old) old.replaceWith(node); else document.body.append(node);
  document.body.classList.add("has-callpanel");
  watchEnd(message, ended);
}

// The end comes as an "ended" event (a stream hears the end of every call it was told of). Should
// that be lost with a dropped socket, the call is known to be over once it is filed in the CRM.
function watchEnd(message, ended) {
  clearInterval(panel.watch);
  if (ended) return;
  const id = message.event.call_id;
  panel.watch = setInterval(async () => {
    if (panel.callId !== id) { clearInterval(panel.watch); return; }
    try {
      await api(`/calls/${encodeURIComponent(id)}`);
    } catch (err) { return; }  // not filed yet: still going
    clearInterval(panel.watch);
    showCallPanel({ ...message, event: { ...message.event, kind: "ended" } });
  }, WATCH_MS);
}

export function hideCallPanel() {
  clearInterval(panel.watch);
  const old = $("#callpanel");
  if (old) old.remove();
  panel.callId = null;
  document.body.classList.remove("has-callpanel");
}

function summary(client, info) {
  if (!client) return h("p", { class: "muted", text: "Номер звонит впервые. Создайте клиента или добавьте номер к существующему." });
  const calls = info.calls || [];
  const deals = info.deals || [];
  return [
    h("section", { "data-testid": "callpanel-calls" }, h("h3", { text: `Звонки (${num(info.calls_total || 0)})` }),
      calls.length ? h("ul", { class: "mini-list" }, calls.map((c) => h("li", {}, h("span", { text: when(c.started_at) }),
        h("span", { class: "muted small", text: `${c.disposition === "answered" ? "принят" : "пропущен"}${c.employee_name ? ", " + c.employee_name : ""}` }))))
        : h("p", { class: "muted small", text: "Раньше не звонил" })),
    h("section", { "data-testid": "callpanel-deals" }, h("h3", { text: "Открытые сделки" }),
      deals.length ? h("ul", { class: "mini-list" }, deals.map((d) => h("li", {}, h("span", { text: d.title }), h("b", { text: `${d.stage} · ${money(d.value, d.currency)}` }))))
        : h("p", { class: "muted small", text: "Нет открытых сделок" })),
    info.last_comment ? h("section", { "data-testid": "callpanel-comment" }, h("h3", { text: "Последний комментарий" }),
      h("p", { text: info.last_comment.text }), h("p", { class: "muted small", text: `${info.last_comment.who || ""} ${when(info.last_comment.at)}` })) : null,
  ];
}

function actions(message, ended) {
  const event = message.event;
  const ext = session.me && session.me.extension;
  const client = message.client;
  const card = client ? `#/client/${client.id}` : `#/new/${encodeURIComponent(message.phone)}`;
  const list = [];
  if (!ended && ext) {
    list.push(button("Положить трубку", () => control("hangup", { extension: ext }).then(() => toast("Звонок завершён")).catch(toastError), { kind: "danger", size: "sm", testid: "cp-hangup" }));
    list.push(button("Перевести", () => transferDialog(ext), { size: "sm", testid: "cp-transfer" }));
  }
  if (ended && ext && message.phone) {
    list.push(button("Перезвонить", () => control("originate", { extension: ext, number: message.phone }).then(() => toast("Звоним: сначала зазвонит ваш телефон")).catch(toastError), { kind: "primary", size: "sm", testid: "cp-callback" }));
  }
  if (ended && event.call_id && (session.settings.call_outcomes || []).length) list.push(outcomePicker(event.call_id));
  list.push(h("a", { class: "btn btn-sm", href: card, "data-testid": "cp-card" }, "Карточка"));
  if (client) {
    list.push(button("Комментарий", () => quick(client, "comment"), { size: "sm", testid: "cp-comment" }));
    list.push(button("Задача", () => quick(client, "task"), { size: "sm", testid: "cp-task" }));
    list.push(button("Сделка", () => quick(client, "deal", event.call_id), { size: "sm", testid: "cp-deal" }));
  }
  list.push(button("Скрыть", hideCallPanel, { kind: "ghost", size: "sm", testid: "cp-close" }));
  return list;
}

// Right after the call: what came of it. The record may still be on its way to the CRM (it is
// filed once the tracker closes the call), so a 404 is tried again a few times.
function outcomePicker(callId) {
  const choice = select("outcome", [["", "Итог звонка…"], ...session.settings.call_outcomes.map((o) => [o, o])], "",
    { class: "compact", "aria-label": "Итог звонка", "data-testid": "cp-outcome" });
  choice.addEventListener("change", async () => {
    const path = `/calls/${encodeURIComponent(callId)}/outcome`;
    for (let attempt = 0; ; attempt += 1) {
      try {
        await api(path, { method: "POST", body: { outcome: choice.value } });
        toast(choice.value ? `Итог: ${choice.value}` : "Итог снят", { kind: "success", timeout: 2000 });
        return;
      } catch (err) {
        if (err.status !== 404 || attempt >= 5) { toastError(err); return; }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  });
  return choice;
}

function control(action, body) { return api(`/api/calls/${action}`, { method: "POST", body }); }

async function transferDialog(ext) {
  const others = session.employees.filter((e) => e.extension !== ext);
  const values = await formDialog("Перевести звонок", [
    field("Кому", select("target", others.map((e) => [e.extension, `${e.name} (${e.extension})`]), others[0] && others[0].extension, { "data-testid": "cp-target" })),
    field("Как", select("kind", [["blind", "Сразу (без консультации)"], ["attended", "С консультацией"]], "blind", { "data-testid": "cp-kind" })),
  ], { submit: "Перевести", testid: "transfer-dialog",
    onSubmit: async (v) => { await control("transfer", { extension: ext, target: v.target, kind: v.kind }); return v; } });
  if (values) toast(values.kind === "attended" ? "Соединяем для консультации…" : "Звонок переведён", { kind: "success" });
}

async function quick(client, kind, callId) {
  try {
    if (kind === "comment") {
      const v = await formDialog("Комментарий", field("Текст", h("textarea", { name: "text", required: true, rows: 3 })));
      if (v) await api(`/clients/${client.id}/comments`, { method: "POST", body: { text: v.text, call_id: callId } });
    } else if (kind === "task") {
      const v = await formDialog("Задача", [field("Что сделать", h("input", { name: "title", required: true })),
        field("Срок", h("input", { name: "deadline", type: "datetime-local" }))]);
      if (v) {
        const { localInputToIso } = await import("./format.js");
        await api("/tasks", { method: "POST", body: { title: v.title, client_id: client.id, deadline: localInputToIso(v.deadline) } });
      }
    } else {
      const v = await formDialog("Новая сделка", [field("Название", h("input", { name: "title", value: client.name || "", required: true })),
        field("Сумма, ₽", h("input", { name: "value", type: "number", min: "0", step: "0.01" }))]);
      if (v) {
        const pipelines = await api("/pipelines");
        await api("/deals", { method: "POST", body: { title: v.title, value: Number(v.value || 0), client_id: client.id, pipeline_id: pipelines.items[0].id } });
      }
    }
    toast("Сохранено", { kind: "success", timeout: 2500 });
  } catch (err) { toastError(err); }
}
