// Pipeline settings from the deals board (manual «Настройки воронки»): rename the pipeline, add,
// rename, reorder and remove stages, create a pipeline, delete an empty one. Admins and managers
// see these controls; the server enforces the same rule and the limits (8 stages, empty to delete).
import { api } from "../api.js";
import { h } from "../dom.js";
import { button, confirmDialog, field, formDialog, toast, toastError } from "../ui.js";

export const MAX_STAGES = 8;

const nameInput = (value, testid) => h("input", { name: "name", value: value || "", required: true, maxlength: 60, "data-testid": testid });

export async function renameStage(pipeline, stage) {
  const v = await formDialog("Переименовать этап", field("Название этапа", nameInput(stage, "stage-name")),
    { testid: "stage-dialog", onSubmit: (v) => api(`/pipelines/${pipeline.id}/stages`, { method: "PATCH", body: { from: stage, to: v.name } }) });
  if (v) toast(`Этап переименован: «${stage}» → «${v.stages[pipeline.stages.indexOf(stage)]}»`, { kind: "success" });
  return v;
}

export async function addStage(pipeline) {
  const v = await formDialog("Новый этап", field("Название этапа", nameInput("", "stage-name")),
    { submit: "Добавить", testid: "stage-dialog", onSubmit: (v) => api(`/pipelines/${pipeline.id}/stages`, { method: "POST", body: { name: v.name } }) });
  if (v) toast(`Этап «${v.stages[v.stages.length - 1]}» добавлен`, { kind: "success" });
  return v;
}

export async function newPipeline() {
  const v = await formDialog("Новая воронка", field("Название воронки", nameInput("", "pipeline-name"),
    { hint: "Этапы: «Первый контакт», «В работе», «Платеж»; их можно переименовать и добавить до восьми." }),
  { submit: "Создать", testid: "pipeline-dialog", onSubmit: (v) => api("/pipelines", { method: "POST", body: { name: v.name } }) });
  if (v) toast(`Воронка «${v.name}» создана`, { kind: "success" });
  return v;
}

// The settings dialog of one pipeline; `changed(pipelineId)` reloads the board (null: it was deleted).
export function pipelineSettings(pipeline, changed) {
  const dialog = h("dialog", { class: "modal", "data-testid": "pipeline-settings", style: "width:min(560px, calc(100vw - 24px))" });
  const close = () => { dialog.close(); dialog.remove(); };
  const again = async (id) => {
    close();
    await changed(id);
    const fresh = (await api("/pipelines")).items.find((p) => p.id === id);
    if (fresh) pipelineSettings(fresh, changed);
  };
  const act = (work, id = pipeline.id) => async () => { try { await work(); await again(id); } catch (err) { toastError(err); } };
  const move = (i, by) => {
    const order = [...pipeline.stages];
    [order[i], order[i + by]] = [order[i + by], order[i]];
    return api(`/pipelines/${pipeline.id}`, { method: "PATCH", body: { order } });
  };
  const name = nameInput(pipeline.name, "pipeline-rename");
  const rows = pipeline.stages.map((stage, i) => h("li", { class: "stage-row", "data-stage": stage },
    h("span", { class: "grow", text: stage }),
    button("↑", act(() => move(i, -1)), { size: "sm", kind: "ghost", title: `Выше: ${stage}`, disabled: i === 0 }),
    button("↓", act(() => move(i, 1)), { size: "sm", kind: "ghost", title: `Ниже: ${stage}`, disabled: i === pipeline.stages.length - 1 }),
    button("Переименовать", async () => { if (await renameStage(pipeline, stage)) await again(pipeline.id); }, { size: "sm", testid: "stage-rename" }),
    button("Удалить", act(() => api(`/pipelines/${pipeline.id}/stages/${encodeURIComponent(stage)}`, { method: "DELETE" })),
      { size: "sm", kind: "ghost", testid: "stage-remove", title: `Удалить этап «${stage}»`, disabled: pipeline.stages.length === 1 })));
  dialog.append(
    h("div", { class: "modal-head" }, h("h2", { text: "Настройки воронки" }), button("✕", close, { kind: "ghost", title: "Закрыть" })),
    h("div", { class: "modal-body" },
      h("form", { class: "btn-row", onsubmit: (e) => { e.preventDefault(); act(() => api(`/pipelines/${pipeline.id}`, { method: "PATCH", body: { name: name.value } }))(); } },
        field("Название воронки", name, { hint: "Название поменяется у всех сотрудников компании." }), button("Сохранить", null, { type: "submit", size: "sm" })),
      h("h3", { text: `Этапы (${pipeline.stages.length} из ${MAX_STAGES})` }),
      h("ol", { class: "stage-list", "data-testid": "stage-list" }, rows),
      button("+ Добавить этап", async () => { if (await addStage(pipeline)) await again(pipeline.id); },
        { size: "sm", testid: "stage-add", disabled: pipeline.stages.length >= MAX_STAGES })),
    h("div", { class: "modal-foot" },
      button("Удалить воронку", async () => {
        if (!(await confirmDialog("Удалить воронку?", `Воронка «${pipeline.name}» будет удалена. Удалить можно только пустую воронку, включая архив.`, { submit: "Удалить", danger: true }))) return;
        try { await api(`/pipelines/${pipeline.id}`, { method: "DELETE" }); toast(`Воронка «${pipeline.name}» удалена`); close(); await changed(null); }
        catch (err) { toastError(err); }
      }, { kind: "danger", testid: "pipeline-delete" }),
      button("Новая воронка", async () => { const made = await newPipeline(); if (made) { close(); await changed(made.id); } }, { testid: "pipeline-new" }),
      button("Готово", close, { kind: "primary" })));
  dialog.addEventListener("cancel", (e) => { e.preventDefault(); close(); });
  document.body.append(dialog);
  dialog.showModal();
}
