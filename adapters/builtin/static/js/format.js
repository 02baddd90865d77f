// Numbers, money, dates (in the company's time zone), durations and phone numbers, in Russian.

const settings = { timeZone: undefined };
// Building an Intl formatter costs far more than using one: one per (locale, options, zone).
const formatters = new Map();

function formatter(kind, locale, options) {
  const key = `${kind}|${locale}|${settings.timeZone}|${JSON.stringify(options)}`;
  let made = formatters.get(key);
  if (!made) {
    made = kind === "date" ? new Intl.DateTimeFormat(locale, { timeZone: settings.timeZone, ...options }) : new Intl.NumberFormat(locale, options);
    formatters.set(key, made);
  }
  return made;
}

export function setTimeZone(tz) { settings.timeZone = tz || undefined; formatters.clear(); }
export function timeZone() { return settings.timeZone || Intl.DateTimeFormat().resolvedOptions().timeZone; }

export const num = (n, digits = 0) => formatter("number", "ru-RU", { maximumFractionDigits: digits }).format(Number(n || 0));

const CURRENCY = { RUB: "₽", USD: "$", EUR: "€" };
export function money(value, currency = "RUB") {
  if (value === null || value === undefined) return "—";
  return `${formatter("number", "ru-RU", { maximumFractionDigits: 2 }).format(Number(value))} ${CURRENCY[currency] || currency}`;
}
export const pct = (n) => (n === null || n === undefined ? "—" : `${num(n, 2)}%`);

function fmt(iso, options) {
  if (!iso) return "";
  const date = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return formatter("date", "ru-RU", options).format(date);
}

// "YYYY-MM-DD" of a moment in the company's time zone (for "today", periods and grouping).
export function dayKey(iso) {
  const parts = formatter("date", "en-CA", { year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(iso instanceof Date ? iso : new Date(iso));
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

export function when(iso) {
  if (!iso) return "";
  const key = dayKey(iso);
  const today = dayKey(new Date());
  const yesterday = dayKey(new Date(Date.now() - 86400000));  // cheap now: the formatter is reused
  const time = fmt(iso, { hour: "2-digit", minute: "2-digit" });
  if (key === today) return `сегодня, ${time}`;
  if (key === yesterday) return `вчера, ${time}`;
  return fmt(iso, { day: "numeric", month: "short", year: key.slice(0, 4) === today.slice(0, 4) ? undefined : "numeric", hour: "2-digit", minute: "2-digit" });
}

export const date = (iso) => fmt(iso, { day: "numeric", month: "long", year: "numeric" });
export const dateTime = (iso) => fmt(iso, { dateStyle: "short", timeStyle: "short" });

// A `datetime-local` input's value, read as the company's wall clock, as a UTC ISO string.
export function localInputToIso(value) {
  if (!value) return undefined;
  const asUtc = new Date(value + "Z");
  const offset = zoneOffsetMinutes(asUtc);
  return new Date(asUtc.getTime() - offset * 60000).toISOString();
}

export function isoToLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const shifted = new Date(d.getTime() + zoneOffsetMinutes(d) * 60000);
  return shifted.toISOString().slice(0, 16);
}

function zoneOffsetMinutes(moment) {
  const parts = formatter("date", "en-US", { hourCycle: "h23", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(moment);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return Math.round((wall - Math.floor(moment.getTime() / 1000) * 1000) / 60000);
}

export function duration(seconds) {
  const s = Math.round(seconds || 0);
  if (s >= 3600) return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function age(iso) {
  if (!iso) return "";
  const days = Math.floor((Date.now() - new Date(iso).getTime()) / 86400000);
  if (days < 1) return "сегодня";
  return `${days} ${plural(days, "день", "дня", "дней")}`;
}

export function plural(n, one, few, many) {
  const m10 = n % 10, m100 = n % 100;
  if (m10 === 1 && m100 !== 11) return one;
  if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return few;
  return many;
}

// +79161234567 → +7 916 123-45-67; other numbers as they are.
export function phone(value) {
  const text = String(value || "");
  const m = /^(?:\+7|7|8)(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(text);
  return m ? `+7 ${m[1]} ${m[2]}-${m[3]}-${m[4]}` : text;
}

export function initials(name) {
  return String(name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "?";
}

export const DEAL_STATUS = { open: "В работе", won: "Успешно", lost: "Отказ", archive: "В архиве" };
export const DEAL_BADGE = { open: "badge-info", won: "badge-success", lost: "badge-danger", archive: "" };
