// Deals board: pipelines × stages, cards with client / amount / responsible / age, drag and drop
// (persisted and written to the client's feed with who and when), won / lost with a reason,
// filters mine / everyone's and pipeline, totals per stage. Keyboard: a card opens with Enter.
import { api } from "../api.js";
import { h, fill } from "../dom.js";
import { DEAL_BADGE, DEAL_STATUS, age, money, num, phone as fmtPhone, when, plural } from "../format.js";
import { callButton } from "../dial.js";
import { mayUse, session } from "../shell.js";
import { badge, button, empty, failure, field, formDialog, inplace, loading, select, tabs, toast, toastError } from "../ui.js";
import { newDeal } from "./card.js";
import { MAX_STAGES, addStage, pipelineSettings, renameStage } from "./pipelines.js";
import { fieldsBlock } from "../fields.js";

const state = { pipeline: null, who: "all", pipelines: [], view: null };
const STAGE_COLOURS = ["#60a5fa", "#818cf8", "#a78bfa", "#f472b6", "#fb923c", "#facc15", "#4ade80", "#2dd4bf"];

// After pipelines were edited: the page again, on `id` (null: the first pipeline).
async function pipelinesChanged(id) {
  if (id) state.pipeline = id;
  if (state.view?.isConnected) await showDeals(state.view);
}

export async function showDeals(view, params) {
  state.view = view;
  state.pipelines = (await api("/pipelines")).items;
  if (!state.pipeline || !state.pipelines.some((p) => p.id === state.pipeline)) state.pipeline = state.pipelines[0].id;
  const board = h("div", { "data-testid": "board-wrap" }, loading());
  const reload = () => loadBoard(board);
  fill(view, 
    h("div", { class: "page-head" }, h("div", {}, h("h1", { text: "Сделки" }), h("div", { class: "sub", id: "board-sub" })),
      button("+ Новая сделка", () => newDeal(null).then((d) => d && reload()), { kind: "primary", testid: "new-deal" })),
    h("div", { class: "toolbar" },
      select("pipeline", state.pipelines.map((p) => [p.id, p.name]), state.pipeline, { "aria-label": "Воронка", "data-testid": "board-pipeline",
        onchange: (e) => { state.pipeline = Number(e.target.value); reload(); } }),
      tabs([["all", "Все сделки"], ["mine", "Мои"]], state.who, (k) => { state.who = k; reload(); }, { testid: "board-who" }),
      mayUse("sees_all") ? button("Настройки воронки", () => pipelineSettings(current(), pipelinesChanged), { size: "sm", testid: "pipeline-settings-open" }) : null),
    board);
  await loadBoard(board);
  const deal = new URLSearchParams(params || "").get("deal");
  if (deal) openDeal(Number(deal), reload);
  return reload;
}

const current = () => state.pipelines.find((p) => p.id === state.pipeline);

async function loadBoard(box) {
  let data;
  try { data = await api(`/board?pipeline_id=${state.pipeline}${state.who === "mine" ? "&mine=1" : ""}`); }
  catch (err) { fill(box, failure(err, () => loadBoard(box))); return; }
  const reload = () => loadBoard(box);
  const total = data.stages.reduce((a, s) => a + s.count, 0);
  const sum = data.stages.reduce((a, s) => a + s.value, 0);
  const sub = document.getElementById("board-sub");
  if (sub) sub.textContent = `${num(total)} ${plural(total, "сделка", "сделки", "сделок")} в работе на ${money(sum)}`;
  const columns = data.stages.map((stage, i) => column(stage, i, reload));
  if (mayUse("sees_all") && data.stages.length < MAX_STAGES) {  // the manual's «Добавить этап», right of the last column
    columns.push(h("section", { class: "column column-add" }, button("+ Добавить этап", async () => {
      if (await addStage(data.pipeline)) await pipelinesChanged(data.pipeline.id);
    }, { kind: "ghost", testid: "board-add-stage" })));
  }
  fill(box, 
    total ? null : empty("В этой воронке нет открытых сделок", "Создайте сделку кнопкой «Новая сделка» или из звонка."),
    h("div", { class: "board", "data-testid": "board" }, columns),
    h("div", { class: "closing" }, dropZone("won", "Успешно закрыть", reload), dropZone("lost", "Закрыть с отказом", reload)));
}

function column(stage, index, reload) {
  const body = h("div", { class: "column-body" }, stage.deals.map((d) => dealCard(d, reload)),
    stage.count > stage.deals.length ? h("p", { class: "muted small", text: `и ещё ${num(stage.count - stage.deals.length)}` }) : null);
  const col = h("section", { class: "column", "data-stage": stage.name, "data-testid": "stage", style: `--stage:${STAGE_COLOURS[index % 8]}` },
    h("header", { class: "column-head" }, h("b", { text: stage.name }),
      h("span", { class: "sum", "data-testid": "stage-total" }, `${num(stage.count)} · ${money(stage.value)}`)), body);
  droppable(col, (id) => move(id, { stage: stage.name }, reload));
  if (mayUse("sees_all")) {
    col.querySelector(".column-head").append(button("✎", async () => {
      if (await renameStage(current(), stage.name)) await pipelinesChanged(state.pipeline);
    }, { kind: "ghost", size: "sm", title: `Переименовать этап «${stage.name}»`, testid: "stage-rename-open" }));
  }
  return col;
}

function dealCard(d, reload) {
  const card = h("article", { class: "deal-card", draggable: "true", tabindex: "0", "data-deal": d.id, "data-testid": "deal-card",
    "aria-label": `${d.title}, ${money(d.value, d.currency)}` },
    h("span", { class: "title", text: d.title }),
    d.client_name ? h("span", { class: "muted small", text: d.client_name }) : null,
    h("span", { class: "amount", text: money(d.value, d.currency) }),
    h("span", { class: "foot" }, h("span", { text: d.responsible_name || "—" }), h("span", { title: `С ${when(d.created_at)}`, text: age(d.stage_since || d.created_at) })));
  card.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", String(d.id)); e.dataTransfer.effectAllowed = "move"; card.classList.add("dragging"); });
  card.addEventListener("dragend", () => card.classList.remove("dragging"));
  card.addEventListener("click", () => openDeal(d.id, reload));
  card.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openDeal(d.id, reload); } });
  return card;
}

function droppable(el, onDrop) {
  el.addEventListener("dragover", (e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; el.classList.add("drop-target"); });
  el.addEventListener("dragleave", (e) => { if (!el.contains(e.relatedTarget)) el.classList.remove("drop-target"); });
  el.addEventListener("drop", (e) => { e.preventDefault(); el.classList.remove("drop-target"); const id = Number(e.dataTransfer.getData("text/plain")); if (id) onDrop(id); });
}

function dropZone(status, label, reload) {
  const zone = h("div", { class: `drop-zone ${status}`, "data-testid": `drop-${status}` }, label);
  droppable(zone, (id) => close(id, status, reload));
  return zone;
}

async function move(id, changes, reload) {
  try { await api(`/deals/${id}`, { method: "PATCH", body: changes }); reload(); }
  catch (err) { toastError(err); reload(); }
}

export async function close(id, status, reload) {
  const v = await formDialog(status === "won" ? "Сделка успешна" : "Отказ по сделке",
    field(status === "won" ? "Комментарий (необязательно)" : "Причина отказа", h("textarea", { name: "reason", rows: 3, required: status === "lost", "data-testid": "close-reason" })),
    { submit: status === "won" ? "Закрыть успешно" : "Закрыть с отказом", danger: status === "lost", testid: "close-dialog" });
  if (!v) return false;
  try {
    await api(`/deals/${id}`, { method: "PATCH", body: { status, ...(v.reason ? { reason: v.reason } : {}) } });
    toast(status === "won" ? "Сделка закрыта успешно" : "Сделка закрыта с отказом", { kind: status === "won" ? "success" : "" });
    reload();
    return true;
  } catch (err) { toastError(err); return false; }
}

// The deal card (a dialog): fields in place, stage, won / lost / archive / reopen, history, tasks, calls.
export async function openDeal(id, reload) {
  let deal;
  try { deal = await api(`/deals/${id}`); } catch (err) { toastError(err); return; }
  const pipeline = state.pipelines.find((p) => p.id === deal.pipeline_id) || (await api("/pipelines")).items.find((p) => p.id === deal.pipeline_id);
  const patch = async (changes) => { await api(`/deals/${id}`, { method: "PATCH", body: changes }); if (reload) reload(); };
  const dialog = h("dialog", { class: "modal", "data-testid": "deal-card-dialog", style: "width:min(720px, calc(100vw - 24px))" });
  const closeDialog = () => { dialog.close(); dialog.remove(); };
  const again = () => { closeDialog(); openDeal(id, reload); };
  // «Этап»: a stage of this pipeline or of another one (the deal moves there: manual «переместить сделку»)
  const stageSelect = h("select", { name: "stage", "aria-label": "Воронка и этап", "data-testid": "deal-stage", disabled: deal.status !== "open",
    onchange: (e) => {
      const [pid, stage] = JSON.parse(e.target.value);
      patch(pid === deal.pipeline_id ? { stage } : { pipeline_id: pid, stage }).then(again).catch(toastError);
    } },
  (state.pipelines.length ? state.pipelines : [pipeline]).map((p) => h("optgroup", { label: p.name }, p.stages.map((s) =>
    h("option", { value: JSON.stringify([p.id, s]), selected: p.id === deal.pipeline_id && s === deal.stage }, state.pipelines.length > 1 ? `${p.name}: ${s}` : s)))));
  const actions = deal.status === "open"
    ? [button("Успешно", () => { closeDialog(); close(id, "won", reload); }, { kind: "success", size: "sm", testid: "deal-won" }),
      button("Отказ", () => { closeDialog(); close(id, "lost", reload); }, { kind: "danger", size: "sm", testid: "deal-lost" }),
      button("В архив", () => patch({ status: "archive" }).then(again).catch(toastError), { size: "sm" })]
    : [button("Вернуть в работу", () => patch({ status: "open" }).then(again).catch(toastError), { size: "sm", testid: "deal-reopen" })];
  dialog.append(
    h("div", { class: "modal-head" }, h("h2", { text: deal.title }), button("✕", closeDialog, { kind: "ghost", title: "Закрыть" })),
    h("div", { class: "modal-body" },
      h("div", { class: "btn-row", style: "margin-bottom:12px" }, badge(DEAL_STATUS[deal.status], DEAL_BADGE[deal.status].replace("badge-", "")), stageSelect, ...actions),
      deal.reason ? h("p", { class: "muted", text: `Причина: ${deal.reason}` }) : null,
      h("dl", { class: "kv" },
        h("dt", { text: "Название" }), h("dd", {}, inplace(deal.title, (v) => patch({ title: v }))),
        h("dt", { text: "Сумма" }), h("dd", {}, inplace(String(deal.value), (v) => patch({ value: Number(v.replace(",", ".").replace(/\s/g, "")) }), { type: "number", testid: "deal-value-edit", display: (v) => money(Number(v), deal.currency) })),
        h("dt", { text: "Клиент" }), h("dd", {}, deal.client_id ? h("a", { href: `#/client/${deal.client_id}`, onclick: closeDialog }, deal.client_name || "Карточка") : "—",
          ...(deal.client_phones || []).map((p) => h("span", { class: "phone-link nowrap", style: "margin-left:10px" }, fmtPhone(p), callButton(p, { testid: "deal-call" })))),
        h("dt", { text: "Ответственный" }), h("dd", {}, select("responsible_id", session.employees.map((e) => [e.id, e.name]), deal.responsible_id || "",
          { "aria-label": "Ответственный", onchange: (e) => patch({ responsible_id: Number(e.target.value) }).catch(toastError) })),
        h("dt", { text: "Участники" }), h("dd", {}, people(deal, again, () => { closeDialog(); if (reload) reload(); })),
        h("dt", { text: "Создана" }), h("dd", { text: when(deal.created_at) }),
        h("dt", { text: "Заметка" }), h("dd", {}, inplace(deal.notes, (v) => patch({ notes: v }), { multiline: true, placeholder: "Добавить заметку" }))),
      fieldsBlock("deal", deal.id, { editable: deal.status === "open" }),
      h("h3", { style: "margin-top:16px", text: "История" }),
      h("ul", { class: "mini-list", "data-testid": "deal-history" }, (deal.history || []).map((e) => h("li", {}, h("span", { text: e.text }),
        h("span", { class: "muted small nowrap", text: [e.who, when(e.at)].filter(Boolean).join(" · ") })))),
      deal.tasks && deal.tasks.length ? [h("h3", { style: "margin-top:16px", text: "Задачи" }), h("ul", { class: "mini-list" }, deal.tasks.map((t) => h("li", {}, t.title, h("span", { class: "muted small", text: t.deadline ? when(t.deadline) : "" }))))] : null,
      deal.calls && deal.calls.length ? [h("h3", { style: "margin-top:16px", text: "Звонки клиента" }), h("ul", { class: "mini-list" }, deal.calls.map((c) => h("li", {}, when(c.started_at),
        h("span", { class: "muted small", text: c.disposition === "answered" ? "принят" : "пропущен" }), callButton(c.phone, { testid: "deal-call-back", label: "Перезвонить" }))))] : null));
  dialog.addEventListener("cancel", (e) => { e.preventDefault(); closeDialog(); });
  document.body.append(dialog);
  dialog.showModal();
}

// The deal's people: the responsible leads («с короной»), participants can be added and taken off
// (by whoever may change the deal), anyone leaves by themselves, and each mutes their notifications.
function people(deal, again, gone) {
  const me = session.me;
  const list = deal.people || [];
  const mine = list.find((p) => p.employee_id === me.id);
  const manages = mayUse("sees_all") || deal.responsible_id === me.id;
  const call = (path, method, body) => api(`/deals/${deal.id}${path}`, { method, body }).then(again).catch(toastError);
  const others = session.employees.filter((e) => e.active !== false && !list.some((p) => p.employee_id === e.id));
  return h("div", { class: "deal-people", "data-testid": "deal-people" },
    h("ul", { class: "chips" }, list.map((p) => h("li", { class: `chip${p.leader ? " leader" : ""}`, "data-employee": p.employee_id },
      p.leader ? h("span", { class: "crown", title: "Ответственный", "aria-label": "Ответственный", text: "♛ " }) : null, p.name,
      !p.leader && manages && p.employee_id !== me.id
        ? button("✕", () => call(`/participants/${p.employee_id}`, "DELETE"), { kind: "ghost", size: "sm", title: `Убрать из сделки: ${p.name}`, testid: "participant-remove" }) : null))),
    h("div", { class: "btn-row" },
      manages && others.length && deal.status === "open"
        ? select("participant", [["", "+ Добавить участника"], ...others.map((e) => [e.id, e.name])], "", { "aria-label": "Добавить участника", "data-testid": "participant-add",
          onchange: (e) => e.target.value && call("/participants", "POST", { employee_id: Number(e.target.value) }) }) : null,
      mine && !mine.leader ? button("Покинуть сделку", () => api(`/deals/${deal.id}/participants/${me.id}`, { method: "DELETE" })
        .then(() => { toast(`Вы больше не участвуете в сделке «${deal.title}»`, { testid: "deal-left" }); gone(); }).catch(toastError), { size: "sm", testid: "deal-leave" }) : null,
      mine ? h("label", { class: "check" }, h("input", { type: "checkbox", checked: !mine.muted, "data-testid": "deal-notify",
        onchange: (e) => call("/notifications", "PATCH", { muted: !e.target.checked }) }), " Уведомлять меня") : null));
}
