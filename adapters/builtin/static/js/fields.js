// Custom fields (seed 003 «Как создать свои поля»): the block on a client, company, deal or task card, the
// admins' editor of the cards' fields, the clients list's columns and its super-filter.
import { api } from "./api.js";
import { h, fill } from "./dom.js";
import { num, phone as fmtPhone } from "./format.js";
import { badge, button, confirmDialog, field, formDialog, select, tabs, toast, toastError } from "./ui.js";

export const KINDS = [["text", "Текст"], ["number", "Число"], ["date", "Дата"], ["list", "Список"], ["phone", "Телефон"], ["email", "E-mail"], ["file", "Файл"]];
const KIND_NAME = Object.fromEntries(KINDS);
const ENTITIES = [["client", "Клиент"], ["company", "Организация"], ["deal", "Сделка"], ["task", "Задача"]];
const PLURAL = { client: "clients", company: "companies", deal: "deals", task: "tasks" };

export function shown(f, value) {
  if (value === "" || value == null) return "";
  if (f.kind === "number") return num(Number(value));
  if (f.kind === "date") return new Date(`${value}T12:00:00`).toLocaleDateString("ru-RU");
  if (f.kind === "phone") return fmtPhone(value);
  return value;
}

// The card's block: each shown field with its value, edited in place (the control fits the kind).
export function fieldsBlock(entity, id, { editable = true, onSaved = () => {} } = {}) {
  const box = h("dl", { class: "kv", "data-testid": `${entity}-fields` });
  const load = async () => {
    let data;
    try { data = await api(`/${PLURAL[entity]}/${id}/fields`); } catch (err) { fill(box, h("dd", { class: "muted", text: err.message })); return; }
    if (!data.items.length) { box.closest("section")?.setAttribute("hidden", ""); return; }
    box.closest("section")?.removeAttribute("hidden");
    fill(box, ...data.items.flatMap((f) => [h("dt", { text: f.label }), h("dd", {}, editable ? valueEditor(entity, id, f, onSaved) : shown(f, f.value) || "—")]));
  };
  load();
  return h("section", { class: "panel", hidden: true }, h("h2", { text: "Дополнительные поля" }), box);
}

const MAX_FILE_MB = 10;

// A file field: the file's name as a download link, «Загрузить» (or «Заменить») and «✕» to clear.
function fileEditor(entity, id, f, onSaved) {
  const url = `/api/crm/${PLURAL[entity]}/${id}/fields/${f.id}/file`;
  const box = h("span", { class: "file-field", "data-testid": `field-${f.id}`, "data-label": f.label });
  const picker = h("input", { type: "file", hidden: true, "data-testid": `field-${f.id}-file` });
  const draw = (value) => fill(box,
    value ? h("a", { href: url, download: value, "data-testid": `field-${f.id}-download`, text: value }) : h("span", { class: "muted", text: "Нет файла" }),
    button(value ? "Заменить" : "Загрузить", () => picker.click(), { size: "sm", testid: `field-${f.id}-upload` }),
    value ? button("✕", () => put(null), { size: "sm", kind: "ghost", title: "Убрать файл" }) : null, picker);
  const put = async (file) => {
    try {
      const data = file
        ? await api(`${url}?name=${encodeURIComponent(file.name)}`, { method: "PUT", file })
        : await api(`/${PLURAL[entity]}/${id}/fields`, { method: "PUT", body: { values: { [f.id]: null } } });
      draw(data.items.find((x) => x.id === f.id)?.value || "");
      onSaved();
    } catch (err) { toastError(err); }
  };
  picker.addEventListener("change", () => {
    const file = picker.files[0];
    picker.value = "";
    if (!file) return;
    if (file.size > MAX_FILE_MB * 2 ** 20) { toastError(new Error(`Файл больше ${MAX_FILE_MB} МБ`)); return; }
    put(file);
  });
  draw(f.value);
  return box;
}

function valueEditor(entity, id, f, onSaved) {
  if (f.kind === "file") return fileEditor(entity, id, f, onSaved);
  let current = f.value;
  const save = async (value) => {
    const data = await api(`/${PLURAL[entity]}/${id}/fields`, { method: "PUT", body: { values: { [f.id]: value === "" ? null : value } } });
    current = data.items.find((x) => x.id === f.id)?.value ?? "";
    onSaved();
  };
  const show = () => h("button", { type: "button", class: `inplace ${current ? "" : "empty"}`, "data-testid": `field-${f.id}`, "data-label": f.label,
    text: current ? shown(f, current) : "Не указано", onclick: (e) => edit(e.currentTarget) });
  const edit = (shownEl) => {
    const control = f.kind === "list"
      ? select(`f${f.id}`, [["", "—"], ...f.options.map((o) => [o, o])], current, { "data-testid": `field-${f.id}-input` })
      : h("input", { type: { number: "text", date: "date", phone: "tel", email: "email" }[f.kind] || "text", inputmode: f.kind === "number" ? "decimal" : null, "data-testid": `field-${f.id}-input` });
    control.value = current || "";
    let done = false;
    const finish = async (commit) => {
      if (done) return;
      done = true;
      const next = control.value.trim();
      if (commit && next !== (current || "")) {
        try { await save(next); } catch (err) { toastError(err); }
      }
      control.replaceWith(show());
    };
    control.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); finish(true); } if (e.key === "Escape") { e.preventDefault(); finish(false); } });
    if (f.kind === "list") control.addEventListener("change", () => finish(true));
    control.addEventListener("blur", () => finish(true));
    shownEl.replaceWith(control);
    control.focus();
  };
  return show();
}

// Admins: the fields of each card, added, renamed, hidden, moved and deleted.
export function fieldsAdmin() {
  const state = { entity: "client" };
  const list = h("div", { "data-testid": "fields-admin" });
  const load = async () => {
    const { items } = await api(`/fields?entity=${state.entity}`);
    fill(list, items.length ? h("ol", { class: "stage-list" }, items.map((f, i) => h("li", { class: "stage-row", "data-field": f.label },
      h("span", { class: "grow" }, f.label, " ", badge(KIND_NAME[f.kind], "info"), f.hidden ? badge("скрыто") : null,
        f.kind === "list" ? h("span", { class: "muted small", text: ` ${f.options.join(", ")}` }) : null),
      button("↑", () => change(f, { position: i - 1 }), { size: "sm", kind: "ghost", title: `Выше: ${f.label}`, disabled: i === 0 }),
      button("↓", () => change(f, { position: i + 1 }), { size: "sm", kind: "ghost", title: `Ниже: ${f.label}`, disabled: i === items.length - 1 }),
      button(f.hidden ? "Показать" : "Скрыть", () => change(f, { hidden: !f.hidden }), { size: "sm", testid: "field-hide" }),
      button("Переименовать", () => rename(f), { size: "sm" }),
      button("Удалить", () => remove(f), { size: "sm", kind: "ghost", testid: "field-remove" }))))
      : h("p", { class: "muted small", text: "Своих полей пока нет." }));
  };
  const change = (f, body) => api(`/fields/${f.id}`, { method: "PATCH", body }).then(load).catch(toastError);
  const rename = async (f) => {
    const v = await formDialog("Переименовать поле", field("Название", h("input", { name: "label", value: f.label, required: true, maxlength: 60 })),
      { onSubmit: (v) => api(`/fields/${f.id}`, { method: "PATCH", body: { label: v.label } }) });
    if (v) load();
  };
  const remove = async (f) => {
    if (!(await confirmDialog("Удалить поле?", `Поле «${f.label}» и все его значения будут удалены.`, { submit: "Удалить", danger: true }))) return;
    try { await api(`/fields/${f.id}`, { method: "DELETE" }); toast(`Поле «${f.label}» удалено`); load(); } catch (err) { toastError(err); }
  };
  const add = async () => {
    const options = h("textarea", { name: "options", rows: 3, placeholder: "По одному варианту в строке", "data-testid": "field-options" });
    const kind = select("kind", KINDS, "text", { "data-testid": "field-kind", onchange: () => { optionsField.hidden = kind.value !== "list"; } });
    const optionsField = field("Варианты списка", options);
    optionsField.hidden = true;
    const made = await formDialog("Новое поле", [
      field("Название поля", h("input", { name: "label", required: true, maxlength: 60, "data-testid": "field-label" })),
      field("Тип", kind), optionsField,
    ], { submit: "Добавить", testid: "field-dialog", onSubmit: (v) => api("/fields", { method: "POST", body: {
      entity: state.entity, label: v.label, kind: v.kind, ...(v.kind === "list" ? { options: v.options.split("\n").map((o) => o.trim()).filter(Boolean) } : {}) } }) });
    if (made) { toast(`Поле «${made.label}» добавлено`, { kind: "success" }); load(); }
  };
  load();
  return h("section", { class: "panel narrow" }, h("h2", { text: "Поля карточек" }),
    h("p", { class: "muted small", text: "Свои поля в карточках клиента, организации, сделки и задачи: текст, число, дата, список, телефон, e-mail, файл." }),
    tabs(ENTITIES, state.entity, (k) => { state.entity = k; load(); }, { testid: "fields-entity" }),
    list, button("+ Добавить поле", add, { testid: "field-add" }));
}

// The super-filter (seed 003 «Супер-фильтр»): conditions on any field, all of which a client meets.
const BUILT_IN = [["name", "Имя", "text"], ["email", "E-mail", "text"], ["company", "Компания", "text"], ["notes", "Заметки", "text"],
  ["created_at", "Создан", "date"], ["phone", "Телефон", "phone"]];
const OPS = { text: [["contains", "содержит"], ["eq", "равно"], ["ne", "не равно"], ["empty", "пусто"], ["filled", "заполнено"]],
  number: [["eq", "="], ["gt", ">"], ["lt", "<"], ["ne", "≠"], ["empty", "пусто"], ["filled", "заполнено"]],
  date: [["gt", "после"], ["lt", "до"], ["eq", "равно"], ["empty", "пусто"], ["filled", "заполнено"]],
  list: [["eq", "равно"], ["ne", "не равно"], ["empty", "пусто"], ["filled", "заполнено"]],
  member: [["eq", "входит в"], ["ne", "не входит в"]],
  phone: [["contains", "содержит"]], email: [["contains", "содержит"], ["eq", "равно"], ["empty", "пусто"], ["filled", "заполнено"]] };

// `lists`: the lists of clients ({id, name}), matched by membership (seed 003 «Для чего нужны списки»).
export function filterKeys(fields, lists = []) {
  return [...BUILT_IN.map(([key, label, kind]) => ({ key, label, kind, options: [] })),
    ...(lists.length ? [{ key: "list", label: "Список", kind: "member", options: lists }] : []),
    ...fields.map((f) => ({ key: `f${f.id}`, label: f.label, kind: f.kind, options: f.options }))];
}

export async function superFilter(fields, current, lists = []) {
  const keys = filterKeys(fields, lists);
  const rows = h("div", { class: "filter-rows", "data-testid": "filter-rows" });
  const addRow = (cond = { field: keys[0].key, op: "contains", value: "" }) => {
    const key = select("field", keys.map((k) => [k.key, k.label]), cond.field, { "aria-label": "Поле", "data-testid": "filter-field" });
    const op = h("select", { name: "op", "aria-label": "Условие", "data-testid": "filter-op" });
    const value = h("span", { class: "grow" });
    const kindOf = () => keys.find((k) => k.key === key.value) || keys[0];
    const refill = (keep) => {
      const k = kindOf();
      fill(op, ...(OPS[k.kind] || OPS.text).map(([v, label]) => h("option", { value: v, selected: keep && v === cond.op }, label)));
      const input = k.kind === "member"
        ? select("value", k.options.map((l) => [String(l.id), l.name]), String(cond.value ?? ""), { "aria-label": "Значение", "data-testid": "filter-value" })
        : k.kind === "list"
        ? select("value", k.options.map((o) => [o, o]), cond.value, { "aria-label": "Значение", "data-testid": "filter-value" })
        : h("input", { name: "value", type: k.kind === "date" ? "date" : "text", value: keep ? cond.value ?? "" : "", "aria-label": "Значение", "data-testid": "filter-value" });
      fill(value, input);
      value.hidden = ["empty", "filled"].includes(op.value);
    };
    key.addEventListener("change", () => refill(false));
    op.addEventListener("change", () => { value.hidden = ["empty", "filled"].includes(op.value); });
    refill(true);
    const row = h("div", { class: "filter-row", "data-testid": "filter-row" }, key, op, value,
      button("✕", () => row.remove(), { kind: "ghost", size: "sm", title: "Убрать условие" }));
    rows.append(row);
  };
  (current.length ? current : [undefined]).forEach((c) => addRow(c));
  const result = await formDialog("Супер-фильтр", [
    h("p", { class: "muted small", text: "Клиенты, у которых выполнены все условия." }), rows,
    button("+ Условие", () => addRow(), { size: "sm", testid: "filter-add" }),
  ], { submit: "Показать", testid: "filter-dialog", onSubmit: () => [...rows.querySelectorAll(".filter-row")].map((row) => {
    const field = row.querySelector("[name=field]").value;
    const op = row.querySelector("[name=op]").value;
    const input = row.querySelector("[name=value]");
    const kind = keys.find((k) => k.key === field).kind;
    if (["empty", "filled"].includes(op)) return { field, op };
    if (kind === "member") return { field, op, value: Number(input.value) };
    return { field, op, value: kind === "number" ? Number(String(input.value).replace(",", ".").replace(/\s/g, "")) : input.value };
  }) });
  return result;
}

export function describeFilter(fields, conditions, lists = []) {
  const keys = filterKeys(fields, lists);
  const opName = (kind, op) => ((OPS[kind] || OPS.text).find(([v]) => v === op) || [op, op])[1];
  return conditions.map((c) => {
    const k = keys.find((x) => x.key === c.field) || { label: c.field, kind: "text" };
    if (k.kind === "member") return `${opName(k.kind, c.op)} список «${(k.options.find((l) => l.id === c.value) || { name: c.value }).name}»`;
    return ["empty", "filled"].includes(c.op) ? `${k.label}: ${opName(k.kind, c.op)}` : `${k.label} ${opName(k.kind, c.op)} ${k.kind === "number" ? num(c.value) : c.value}`.trim();
  });
}
