// The one fetch helper of every page: JSON in and out, problem+json errors in Russian.

const FIELD_NAMES = {
  name: "Имя", phone: "Телефон", phones: "Телефоны", email: "E-mail", emails: "E-mail", notes: "Заметки", title: "Название",
  value: "Сумма", stage: "Этап", status: "Статус", inn: "ИНН", deadline: "Срок", remind_at: "Время", text: "Текст",
  from: "Начало периода", to: "Конец периода", extension: "Внутренний номер", target: "Кому", reason: "Причина",
  company_id: "Компания", responsible_id: "Ответственный", assignee_id: "Исполнитель", pipeline_id: "Воронка",
  timezone: "Часовой пояс", budget: "Бюджет", starts_on: "Начало", ends_on: "Окончание", file: "Файл",
  stages: "Этапы", order: "Порядок этапов",
  login: "Логин", password: "Пароль", new_password: "Новый пароль", current_password: "Текущий пароль", role: "Роль",
};
// A message the server already wrote in Russian (permissions, passwords) is shown as it is.
const russian = (text) => (/[а-яё]/i.test(text) ? text : null);

const MESSAGES = [
  [/^is required$/, "обязательное поле"],
  [/^must not be empty$/, "не может быть пустым"],
  [/^unknown field$/, "неизвестное поле"],
  [/^must be a number$/, "должно быть числом"],
  [/^must not be negative$/, "не может быть отрицательным"],
  [/^must be a whole number$/, "должно быть целым числом"],
  [/^must be after from$/, "должен быть позже начала"],
  [/^must be an ISO-8601 time$/, "неверное время"],
  [/is not a phone number$/, "это не номер телефона"],
  [/^must be at most (\d+) characters$/, "не длиннее $1 символов"],
  [/^not a stage of (.+)$/, "не этап воронки «$1»"],
  [/^an INN has 10 or 12 digits$/, "ИНН состоит из 10 или 12 цифр"],
  [/^digits$/, "только цифры"],
  [/^must be one of/, "недопустимое значение"],
  [/^unknown time zone/, "неизвестный часовой пояс"],
  [/^name or INN/, "укажите название или ИНН"],
  [/^a pipeline has 1 to (\d+) stages$/, "в воронке от 1 до $1 этапов"],
  [/^stage names repeat$/, "названия этапов повторяются"],
  [/^a pipeline named «(.+)» exists$/, "воронка «$1» уже есть"],
  [/^at most (\d+) characters$/, "не длиннее $1 символов"],
  [/^must list the pipeline's stages, each once$/, "перечислите все этапы по одному разу"],
  [/^no stage «(.+)» in (.+)$/, "нет этапа «$1» в воронке «$2»"],
];

const STATUS_TEXT = {
  400: "Запрос не понят сервером", 401: "Нужно войти заново", 403: "Недостаточно прав для этого действия",
  404: "Не найдено: запись удалена или недоступна", 405: "Действие не поддерживается", 409: "Конфликт с сохранёнными данными",
  413: "Файл слишком большой", 422: "Проверьте поля формы", 429: "Слишком много запросов, повторите позже",
  501: "Функция недоступна на этом сервере", 503: "Сервис временно недоступен (АТС или база данных)",
};

const DETAILS = [
  [/already belongs to client (\d+)/, "Этот номер уже принадлежит другому клиенту (№$1)"],
  [/already belongs to an employee/, "Этот внутренний номер уже занят другим сотрудником"],
  [/the number already belongs/, "Номер уже принадлежит клиенту"],
  [/no (active )?call/i, "Нет активного звонка на вашем номере"],
  [/rate/i, "Слишком много вызовов подряд, подождите"],
  [/(\d+) deal\(s\) are on «(.+)»/, "На этапе «$2» есть сделки ($1): сначала перенесите их на другой этап"],
  [/the pipeline holds (\d+) deal/, "В воронке есть сделки ($1), включая архив: сначала перенесите их в другую воронку"],
  [/the only pipeline/, "Единственную воронку удалить нельзя"],
];

export class ApiError extends Error {
  constructor(status, message, fields = {}) {
    super(message);
    this.status = status;
    this.fields = fields;
  }
}

function translate(text, rules) {
  for (const [pattern, ru] of rules) {
    const m = pattern.exec(text);
    if (m) return ru.replace(/\$(\d)/g, (_, i) => m[Number(i)] || "");
  }
  return null;
}

export function problemText(status, data) {
  const errors = (data && Array.isArray(data.errors) ? data.errors : []);
  const fields = {};
  for (const e of errors) fields[e.field] = translate(String(e.message || ""), MESSAGES) || russian(String(e.message || "")) || "неверное значение";
  const detail = String((data && data.detail) || "");
  const known = detail ? translate(detail, DETAILS) || russian(detail) : null;
  const parts = Object.entries(fields).map(([field, message]) => `${FIELD_NAMES[field] || field}: ${message}`);
  const head = known || STATUS_TEXT[status] || `Ошибка сервера (${status})`;
  return { message: parts.length ? `${head}. ${parts.join("; ")}` : head, fields };
}

let onUnauthorized = () => {};
export function whenUnauthorized(handler) { onUnauthorized = handler; }

// Extra headers for every unsafe request (a CSRF token, when the server hands one out).
export const requestHeaders = {};

export async function api(path, options = {}) {
  const method = options.method || "GET";
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (method !== "GET") Object.assign(init.headers, requestHeaders);
  if (options.form) init.body = options.form;
  else if (options.file) {  // a file as the request's body (a card's file field)
    init.headers["Content-Type"] = "application/octet-stream";
    init.body = options.file;
  } else if (options.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const url = path.startsWith("/api/") ? path : "/api/crm" + path;
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, "Нет связи с сервером. Проверьте сеть и повторите.");
  }
  if (response.status === 401 && !options.quiet401) onUnauthorized();
  const text = response.status === 204 ? "" : await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (err) { data = null; }
  if (!response.ok) {
    const { message, fields } = problemText(response.status, data);
    throw new ApiError(response.status, message, fields);
  }
  return data;
}
