// Company settings (admins): the time zone of dates, "today" and periods; call-back tasks for missed calls.
import { api } from "../api.js";
import { h, fill } from "../dom.js";
import { setTimeZone } from "../format.js";
import { session } from "../shell.js";
import { button, field, toast, toastError } from "../ui.js";

const ZONES = ["Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk", "Asia/Novosibirsk",
  "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok", "Asia/Magadan", "Asia/Kamchatka", "UTC"];

export async function showSettings(view) {
  const s = await api("/settings");
  const zone = h("select", { name: "timezone", "data-testid": "settings-timezone" },
    h("option", { value: "", selected: !s.timezone }, "Как на сервере"),
    ZONES.map((z) => h("option", { value: z, selected: z === s.timezone }, z)));
  const missed = h("input", { type: "checkbox", name: "missed_call_task", checked: s.missed_call_task, "data-testid": "settings-missed" });
  const form = h("form", { class: "panel", style: "max-width:560px", onsubmit: async (e) => {
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
  fill(view, h("div", { class: "page-head" }, h("h1", { text: "Настройки компании" })), form);
}
