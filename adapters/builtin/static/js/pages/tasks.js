// Tasks: overdue / today / next 7 days / later (in the company's time zone), new task, done, and the
// task's card with its custom fields.
import { api } from "../api.js";
import { h, fill } from "../dom.js";
import { dayKey, localInputToIso, when } from "../format.js";
import { refresh as refreshAlerts } from "../alerts.js";
import { employeeById, mayUse, session } from "../shell.js";
import { badge, button, empty, failure, field, formDialog, loading, select, tabs, toastError } from "../ui.js";
import { fieldsBlock } from "../fields.js";

const state = { who: "mine" };

export async function showTasks(view) {
  const box = h("div", { class: "task-groups", id: "task-groups", "data-testid": "task-groups" }, loading());
  const who = mayUse("sees_all") ? tabs([["mine", "Мои"], ["all", "Все"]], state.who, (k) => { state.who = k; load(box); }, { testid: "tasks-who" }) : null;
  fill(view, h("div", { class: "page-head" }, h("h1", { text: state.who === "mine" ? "Мои задачи" : "Задачи" }),
    button("+ Новая задача", () => newTask().then((t) => t && load(box)), { kind: "primary", testid: "new-task" })), who, box);
  await load(box);
}

async function load(box) {
  let data;
  try { data = await api(`/tasks?done=0&per_page=200${state.who === "mine" ? "&mine=1" : ""}`); } catch (err) { fill(box, failure(err, () => load(box))); return; }
  const now = Date.now();
  const today = dayKey(new Date());
  const week = now + 7 * 86400000;
  const groups = [["Просроченные", []], ["Сегодня", []], ["Ближайшие 7 дней", []], ["Позже и без срока", []]];
  for (const t of data.items) {
    const at = t.deadline ? Date.parse(t.deadline) : Infinity;
    const index = at < now ? 0 : dayKey(t.deadline || new Date(0)) === today ? 1 : at <= week ? 2 : 3;
    groups[index][1].push(t);
  }
  if (!data.items.length) { fill(box, h("div", { class: "panel" }, empty("Задач нет", "Все задачи выполнены. Новые появятся здесь."))); return; }
  fill(box, ...groups.filter(([, items]) => items.length).map(([title, items], i) => h("section", { class: "panel", "data-group": title },
    h("h2", {}, `${title} (${items.length})`),
    items.map((t) => taskRow(t, title === "Просроченные", () => load(box))))));
}

export function taskRow(t, overdue, reload, { inCard = false } = {}) {
  const assignee = employeeById(t.assignee_id);
  return h("div", { class: "task", "data-task": t.id },
    h("input", { type: "checkbox", "aria-label": `Выполнено: ${t.title}`, "data-testid": "task-done", onchange: async () => {
      try { await api(`/tasks/${t.id}`, { method: "PATCH", body: { done: true } }); refreshAlerts(); reload(); } catch (err) { toastError(err); }
    } }),
    h("div", { class: "body" },
      h("button", { type: "button", class: "cell-main link-button", text: t.title, title: "Открыть задачу", "data-testid": "task-open", onclick: () => openTask(t, reload) }),
      h("div", { class: "muted small" },
        t.deadline ? h("span", { class: overdue ? "overdue" : "" }, `до ${when(t.deadline)}`) : "без срока",
        assignee && state.who !== "mine" ? ` · ${assignee.name}` : "",
        t.client_id && !inCard ? [" · ", h("a", { href: `#/client/${t.client_id}` }, t.client_name || "карточка клиента")] : "",
        t.deal_title ? [" · сделка ", h("a", { href: `#/deals?deal=${t.deal_id}` }, t.deal_title)] : "",
        // who set it, when it is not the assignee's own
        t.author_name && t.author_id !== t.assignee_id ? h("span", { "data-testid": "task-author" }, ` · поставил(а) ${t.author_name}`) : "")),
    overdue ? badge("просрочена", "danger") : null);
}

// The task's card (a dialog): what, when, who, what it belongs to, and its custom fields in place.
export function openTask(t, reload) {
  const dialog = h("dialog", { class: "modal", "data-testid": "task-card-dialog", style: "width:min(560px, calc(100vw - 24px))" });
  const closeDialog = () => { dialog.close(); dialog.remove(); if (reload) reload(); };
  const assignee = employeeById(t.assignee_id);
  dialog.append(
    h("div", { class: "modal-head" }, h("h2", { text: t.title }), button("✕", closeDialog, { kind: "ghost", title: "Закрыть" })),
    h("div", { class: "modal-body" },
      h("dl", { class: "kv" },
        h("dt", { text: "Срок" }), h("dd", { text: t.deadline ? when(t.deadline) : "без срока" }),
        h("dt", { text: "Исполнитель" }), h("dd", { text: assignee ? assignee.name : "—" }),
        t.author_name ? [h("dt", { text: "Поставил(а)" }), h("dd", { text: t.author_name })] : null,
        t.client_id ? [h("dt", { text: "Клиент" }), h("dd", {}, h("a", { href: `#/client/${t.client_id}`, onclick: closeDialog }, t.client_name || "карточка клиента"))] : null,
        t.deal_title ? [h("dt", { text: "Сделка" }), h("dd", {}, h("a", { href: `#/deals?deal=${t.deal_id}`, onclick: closeDialog }, t.deal_title))] : null),
      fieldsBlock("task", t.id, { editable: !t.done })));
  dialog.addEventListener("cancel", (e) => { e.preventDefault(); closeDialog(); });
  document.body.append(dialog);
  dialog.showModal();
}

export async function newTask(defaults = {}) {
  const v = await formDialog("Новая задача", [
    field("Что сделать", h("input", { name: "title", required: true, "data-testid": "task-title" })),
    h("div", { class: "field-row" },
      field("Срок", h("input", { name: "deadline", type: "datetime-local", "data-testid": "task-deadline" })),
      field("Исполнитель", select("assignee_id", session.employees.map((e) => [e.id, e.name]), session.me.id, { "data-testid": "task-assignee" }))),
  ], { submit: "Создать", testid: "task-dialog" });
  if (!v) return null;
  try {
    return await api("/tasks", { method: "POST", body: { title: v.title, ...defaults,
      ...(v.deadline ? { deadline: localInputToIso(v.deadline) } : {}), ...(v.assignee_id ? { assignee_id: Number(v.assignee_id) } : {}) } });
  } catch (err) { toastError(err); return null; }
}
