// Components every page uses: buttons, fields, toasts, modals, tabs, tables, badges and states.
import { h, $, fill } from "./dom.js";

export function button(label, onclick, { kind = "", size = "", testid, title, type = "button", disabled } = {}) {
  const cls = ["btn", kind && `btn-${kind}`, size && `btn-${size}`].filter(Boolean).join(" ");
  return h("button", { type, class: cls, onclick, "data-testid": testid, title, "aria-label": title, disabled }, label);
}

export function field(label, control, { hint } = {}) {
  return h("label", { class: "field" }, h("span", { text: label }), control, hint ? h("small", { class: "muted", text: hint }) : null);
}

export function select(name, options, value, attrs = {}) {
  return h("select", { name, ...attrs }, options.map(([v, label]) => h("option", { value: v, selected: String(v) === String(value ?? "") }, label)));
}

export function badge(text, kind = "") { return h("span", { class: `badge ${kind ? "badge-" + kind : ""}`.trim(), text }); }

// -- states ------------------------------------------------------------------------------------

export const loading = (text = "Загрузка…") => h("div", { class: "state", role: "status", "data-state": "loading" }, h("span", { class: "spinner" }), " ", text);
export const empty = (title, text = "", action = null) => h("div", { class: "state", "data-state": "empty" }, h("b", { text: title }), text, action ? h("div", { style: "margin-top:12px" }, action) : null);
export const failure = (err, retry) => h("div", { class: "state state-error", role: "alert", "data-state": "error" },
  h("b", { text: "Не удалось загрузить" }), h("div", { text: err && err.message ? err.message : String(err) }),
  retry ? h("div", { style: "margin-top:12px" }, button("Повторить", retry)) : null);

// Fill `box` with the result of `load()`, showing loading and error states meanwhile.
export async function into(box, load) {
  fill(box, loading());
  try {
    const content = await load();
    fill(box, ...[content].flat().filter(Boolean));
  } catch (err) {
    fill(box, failure(err, () => into(box, load)));
  }
}

// -- toasts ------------------------------------------------------------------------------------

export function toast(text, { kind = "", title = "", timeout = 6000, actions = [], testid = "toast" } = {}) {
  let region = $("#toasts");
  if (!region) { region = h("div", { id: "toasts", class: "toasts", "aria-live": "polite" }); document.body.append(region); }
  const close = () => item.remove();
  // The text takes the toast's width; its buttons go on a row of their own below it.
  const item = h("div", { class: `toast ${kind ? "toast-" + kind : ""}`, role: kind === "danger" ? "alert" : "status", "data-testid": testid },
    h("div", { class: "toast-body" }, title ? h("div", { class: "toast-title", text: title }) : null, h("div", { text })),
    button("✕", close, { kind: "ghost", size: "sm", title: "Закрыть" }),
    actions.length ? h("div", { class: "toast-actions" }, actions.map(([label, fn]) => button(label, () => { close(); fn(); }, { size: "sm" }))) : null);
  region.append(item);
  while (region.children.length > 4) region.firstElementChild.remove();
  if (timeout) setTimeout(close, timeout);
  return item;
}

export const toastError = (err) => toast(err && err.message ? err.message : String(err), { kind: "danger", timeout: 8000 });

// -- modal dialogs -----------------------------------------------------------------------------

// A form in a native <dialog>; resolves with the form's values, or null when cancelled.
export function formDialog(title, fields, { submit = "Сохранить", testid = "dialog", danger = false, onSubmit } = {}) {
  return new Promise((resolve) => {
    const error = h("p", { class: "form-error", "data-testid": "dialog-error" });
    const form = h("form", { method: "dialog" },
      h("div", { class: "modal-head" }, h("h2", { text: title }), button("✕", () => close(null), { kind: "ghost", title: "Закрыть" })),
      h("div", { class: "modal-body" }, fields, error),
      h("div", { class: "modal-foot" }, button("Отмена", () => close(null)),
        button(submit, null, { type: "submit", kind: danger ? "danger" : "primary", testid: "dialog-submit" })));
    const dialog = h("dialog", { class: "modal", "data-testid": testid }, form);
    let done = false;
    const close = (value) => { if (done) return; done = true; dialog.close(); dialog.remove(); resolve(value); };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = Object.fromEntries([...new FormData(form).entries()].map(([k, v]) => [k, typeof v === "string" ? v.trim() : v]));
      if (!onSubmit) { close(values); return; }
      try { close(await onSubmit(values)); } catch (err) { error.textContent = err.message; }
    });
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); close(null); });
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector("input:not([type=hidden]), textarea, select");
    if (first) first.focus();
  });
}

export async function confirmDialog(title, text, { submit = "Да", danger = false } = {}) {
  return (await formDialog(title, h("p", { text }), { submit, danger, testid: "confirm" })) !== null;
}

// -- tabs ---------------------------------------------------------------------------------------

export function tabs(items, current, onChange, { testid } = {}) {
  const bar = h("div", { class: "tabs", role: "tablist", "data-testid": testid });
  const buttons = items.map(([key, label]) => h("button", { type: "button", class: "tab", role: "tab", "data-key": key,
    "aria-selected": String(key === current), onclick: () => select(key) }, label));
  function select(key) {
    for (const b of buttons) b.setAttribute("aria-selected", String(b.dataset.key === key));
    onChange(key);
  }
  bar.addEventListener("keydown", (event) => {
    const index = buttons.indexOf(document.activeElement);
    if (index < 0 || !["ArrowLeft", "ArrowRight"].includes(event.key)) return;
    const next = buttons[(index + (event.key === "ArrowRight" ? 1 : buttons.length - 1)) % buttons.length];
    next.focus();
    select(next.dataset.key);
  });
  bar.append(...buttons);
  return bar;
}

// -- tables -------------------------------------------------------------------------------------

// columns: [{label, cell(row) → node|text, cls}], rows → a table whose rows read as cards on a phone.
// `widths`: a name under which the user's column widths are kept (a grip on each header's edge drags
// the width, a double click gives the column back its natural width).
export function table(columns, rows, { testid, rowAttrs = () => ({}), emptyState, widths } = {}) {
  if (!rows.length && emptyState) return emptyState;
  const header = (c) => (widths && c.label ? resizable(h("th", { class: c.cls, text: c.label }), widths, c.label) : h("th", { class: c.cls, text: c.label }));
  return h("table", { class: `table${widths ? " resizable" : ""}`, "data-testid": testid },
    h("thead", {}, h("tr", {}, columns.map(header))),
    h("tbody", {}, rows.map((row) => h("tr", rowAttrs(row), columns.map((c) => {
      const value = c.cell(row);
      const content = value instanceof Node || Array.isArray(value) ? value : value === "" || value == null ? null : String(value);
      return h("td", { class: c.cls, "data-label": c.label || null }, content);
    })))));
}

const WIDTHS_KEY = (name) => `crm.widths.${name}`;
const MIN_WIDTH = 60;
const MAX_WIDTH = 800;

function savedWidths(name) {
  try { return JSON.parse(localStorage.getItem(WIDTHS_KEY(name)) || "{}"); } catch (err) { return {}; }
}

function resizable(th, name, label) {
  const apply = (px) => { th.style.width = px ? `${px}px` : ""; th.style.minWidth = px ? `${px}px` : ""; };
  apply(savedWidths(name)[label]);
  const store = (px) => {
    const all = savedWidths(name);
    if (px) all[label] = px; else delete all[label];
    localStorage.setItem(WIDTHS_KEY(name), JSON.stringify(all));
  };
  const grip = h("span", { class: "col-grip", title: "Потяните, чтобы изменить ширину; двойной щелчок — как было", "aria-hidden": "true", "data-testid": "col-grip" });
  grip.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    grip.setPointerCapture(e.pointerId);
    const start = e.clientX;
    const from = th.getBoundingClientRect().width;
    const move = (ev) => apply(Math.round(Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, from + ev.clientX - start))));
    const up = () => {
      grip.removeEventListener("pointermove", move);
      grip.removeEventListener("pointerup", up);
      store(Math.round(th.getBoundingClientRect().width));
    };
    grip.addEventListener("pointermove", move);
    grip.addEventListener("pointerup", up);
  });
  grip.addEventListener("dblclick", () => { apply(0); store(0); });
  th.append(grip);
  return th;
}

export function pager(page, perPage, total, go) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  return h("div", { class: "pager", "data-testid": "pager" },
    h("span", { text: `Всего: ${total.toLocaleString("ru-RU")}, страница ${page} из ${pages}` }),
    h("span", { class: "btn-row" },
      button("← Назад", () => go(page - 1), { size: "sm", disabled: page <= 1, testid: "page-prev" }),
      button("Вперёд →", () => go(page + 1), { size: "sm", disabled: page >= pages, testid: "page-next" })));
}

// -- in-place editing ---------------------------------------------------------------------------

// A value that turns into an input on click (or Enter); `save(newValue)` persists it.
export function inplace(value, save, { placeholder = "Не указано", testid, type = "text", multiline = false, display = (v) => v } = {}) {
  const show = (v) => {
    const b = h("button", { type: "button", class: `inplace ${v ? "" : "empty"}`, "data-testid": testid, text: v ? display(v) : placeholder,
      onclick: () => edit(b, v) });
    return b;
  };
  const edit = (shown, current) => {
    const input = multiline ? h("textarea", { rows: 3, "data-testid": testid && `${testid}-input` }) : h("input", { type, "data-testid": testid && `${testid}-input` });
    input.value = current || "";
    let finished = false;
    const finish = async (commit) => {
      if (finished) return;
      finished = true;
      const next = input.value.trim();
      if (commit && next !== (current || "")) {
        try { await save(next); current = next; } catch (err) { toastError(err); }
      }
      input.replaceWith(show(current));
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (!multiline || e.ctrlKey)) { e.preventDefault(); finish(true); }
      if (e.key === "Escape") { e.preventDefault(); finish(false); }
    });
    input.addEventListener("blur", () => finish(true));
    shown.replaceWith(input);
    input.focus();
  };
  return show(value);
}

// A small drop-down menu of actions (keyboard: Enter opens, Tab moves, Esc closes).
export function menu(label, items, { testid, title = "Ещё действия" } = {}) {
  const list = h("div", { class: "menu-list", role: "menu" }, items.filter(Boolean).map(([text, fn, id]) =>
    h("button", { type: "button", role: "menuitem", class: "menu-item", "data-testid": id, onclick: () => { details.open = false; fn(); } }, text)));
  const details = h("details", { class: "menu", "data-testid": testid }, h("summary", { class: "btn btn-sm", title, "aria-label": title }, label), list);
  // Fixed to the viewport so a scrolling table never clips it.
  const place = () => {
    if (!details.open) return;
    const rect = details.querySelector("summary").getBoundingClientRect();
    const below = rect.bottom + 4 + list.offsetHeight <= innerHeight;
    Object.assign(list.style, { position: "fixed", top: `${below ? rect.bottom + 4 : Math.max(8, rect.top - 4 - list.offsetHeight)}px`, right: "auto",
      left: `${Math.max(8, Math.min(rect.right - 200, innerWidth - 208))}px` });
  };
  details.addEventListener("toggle", place);
  addEventListener("scroll", place, { passive: true, capture: true });
  details.addEventListener("keydown", (e) => { if (e.key === "Escape") { details.open = false; details.querySelector("summary").focus(); } });
  document.addEventListener("click", (e) => { if (!details.contains(e.target)) details.open = false; });
  return details;
}
