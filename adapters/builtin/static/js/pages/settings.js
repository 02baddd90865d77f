// Company settings (admins): the time zone of dates, "today" and periods; call-back tasks for missed
// calls; the cards' own fields; the clients list's columns.
import { api } from "../api.js";
import { h, fill } from "../dom.js";
import { setTimeZone } from "../format.js";
import { session } from "../shell.js";
import { button, field, toast, toastError } from "../ui.js";
import { fieldsAdmin } from "../fields.js";

const OWN_COLUMNS = [["phones", "Телефоны"], ["company", "Компания"], ["responsible", "Ответственный"], ["email", "E-mail"],
  ["updated_at", "Изменён"], ["created_at", "Создан"]];
const MAX_COLUMNS = 6;

// The clients list's columns (seed 003 «Настройка столбцов»: up to six), the card's own and custom fields.
async function columnsPanel() {
  const fields = (await api("/fields?entity=client")).items;
  const chosen = new Set(session.settings.client_columns || []);
  const boxes = [...OWN_COLUMNS, ...fields.map((f) => [`f${f.id}`, f.label])].map(([key, label]) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", value: key, checked: chosen.has(key), "data-testid": `column-${label}`, onchange: limit }), ` ${label}`));
  function limit() {
    const n = boxes.filter((b) => b.querySelector("input").checked).length;
    for (const b of boxes) { const input = b.querySelector("input"); input.disabled = !input.checked && n >= MAX_COLUMNS; }
  }
  limit();
  const save = async () => {
    const keys = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    try {
      session.settings = await api("/settings", { method: "PATCH", body: { client_columns: keys } });
      toast("Столбцы списка клиентов сохранены", { kind: "success" });
    } catch (err) { toastError(err); }
  };
  return h("section", { class: "panel narrow" }, h("h2", { text: "Столбцы списка клиентов" }),
    h("p", { class: "muted small", text: `После имени — до ${MAX_COLUMNS} столбцов, в том порядке, как здесь.` }),
    h("div", { class: "columns-choice", "data-testid": "columns-choice" }, boxes),
    h("div", { class: "btn-row" }, button("Сохранить столбцы", save, { kind: "primary", testid: "columns-save" })));
}

// «Итоги звонков»: what an employee may record as the result of a call (one per line, up to 20).
function outcomesPanel() {
  const text = h("textarea", { rows: 6, "data-testid": "outcomes-text", "aria-label": "Итоги звонков" });
  text.value = (session.settings.call_outcomes || []).join("\n");
  const save = async () => {
    const names = text.value.split("\n").map((n) => n.trim()).filter(Boolean);
    try {
      session.settings = await api("/settings", { method: "PATCH", body: { call_outcomes: names } });
      text.value = session.settings.call_outcomes.join("\n");
      toast("Итоги звонков сохранены", { kind: "success" });
    } catch (err) { toastError(err); }
  };
  return h("section", { class: "panel narrow" }, h("h2", { text: "Итоги звонков" }),
    h("p", { class: "muted small", text: "Сотрудник отмечает итог после разговора — в карточке звонка и в списке звонков. По одному на строку, до 20, каждый до 60 символов." }),
    text, h("div", { class: "btn-row" }, button("Сохранить итоги", save, { kind: "primary", testid: "outcomes-save" })));
}

const ZONES = ["Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk", "Asia/Novosibirsk",
  "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok", "Asia/Magadan", "Asia/Kamchatka", "UTC"];

export async function showSettings(view) {
  const s = await api("/settings");
  const zone = h("select", { name: "timezone", "data-testid": "settings-timezone" },
    h("option", { value: "", selected: !s.timezone }, "Как на сервере"),
    ZONES.map((z) => h("option", { value: z, selected: z === s.timezone }, z)));
  const missed = h("input", { type: "checkbox", name: "missed_call_task", checked: s.missed_call_task, "data-testid": "settings-missed" });
  const form = h("form", { class: "panel narrow", onsubmit: async (e) => {
    e.preventDefault();
    try {
      session.settings = await api("/settings", { method: "PATCH", body: { timezone: zone.value, missed_call_task: missed.checked } });
      setTimeZone(session.settings.timezone);
      toast("Настройки сохранены", { kind: "success" });
    } catch (err) { toastError(err); }
  } },
    field("Часовой пояс компании", zone, { hint: "В нём показываются даты и время, считаются «сегодня», периоды отчётов и сроки задач." }),
    h("label", { class: "check field" }, missed, "Пропущенный входящий звонок создаёт задачу «Перезвонить» ответственному менеджеру"),
    h("div", { class: "btn-row" }, button("Сохранить", null, { type: "submit", kind: "primary", testid: "settings-save" })));
  fill(view, h("div", { class: "page-head" }, h("h1", { text: "Настройки компании" })), form, fieldsAdmin(), await columnsPanel(), outcomesPanel());
}
