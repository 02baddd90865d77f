// The live feed (seed 003 «Живая лента»): calls, deals moved and closed, tasks done, comments,
// changes of cards, for the whole company (employees: their own calls); new items are pushed over the
// live socket and appear at the top as they happen.
import { api } from "../api.js";
import { h, fill } from "../dom.js";
import { phone as fmtPhone, when } from "../format.js";
import { employeeName } from "../shell.js";
import { icon } from "../icons.js";
import { empty, failure, loading, tabs } from "../ui.js";
import { onActivity } from "../live.js";

const KINDS = [["", "Всё"], ["call", "Звонки"], ["deal", "Сделки"], ["task", "Задачи"], ["comment", "Комментарии"], ["change", "Изменения"]];
const ICONS = { call: "phone", comment: "comment", task: "task", deal: "deal", change: "edit" };
const state = { kind: "", list: null, reload: null };
const SHOWN = 100;

export async function showFeed(view) {
  const list = h("ol", { class: "feed", "data-testid": "live-feed" });
  const box = h("div", { class: "panel" }, list);
  const reload = () => load(list);
  Object.assign(state, { list, reload });
  fill(view, h("div", { class: "page-head" }, h("div", {}, h("h1", { text: "Живая лента" }), h("div", { class: "sub", text: "Всё, что происходит в компании, обновляется само" }))),
    tabs(KINDS, state.kind, (k) => { state.kind = k; fill(list, loading()); reload(); }, { testid: "feed-kinds" }), box);
  fill(list, loading());
  await reload();
  return reload;
}

async function load(list) {
  let data;
  try { data = await api(`/activity?per_page=100${state.kind ? "&kind=" + state.kind : ""}`); }
  catch (err) { fill(list, failure(err, () => load(list))); return; }
  if (!data.items.length) { fill(list, empty("Пока тихо", "Здесь появятся звонки, сделки, задачи и комментарии.")); return; }
  fill(list, ...data.items.map((e) => row(e)));
}

function row(e, fresh = false) {
  return h("li", { class: `feed-${e.kind}${fresh ? " fresh" : ""}`, "data-kind": e.kind, "data-ref": e.ref },
    h("span", { class: "icon", "aria-hidden": "true" }, icon(ICONS[e.kind])),
    h("div", {},
      h("div", { class: "meta" }, h("span", { text: when(e.at) }), h("b", { text: e.who ? (e.kind === "call" ? employeeName(e.who) : e.who) : "" })),
      h("div", { class: "text" }, e.kind === "call" ? callText(e.text) : e.text,
        e.client_id ? [" — ", h("a", { href: `#/client/${e.client_id}` }, e.client_name || fmtPhone(e.phone) || "карточка")] : null)));
}

// A pushed item goes on top (when it is of the kind shown); after a lost connection, reload.
onActivity((item) => {
  const list = state.list;
  if (!list?.isConnected) return;
  if (item === null) { state.reload(); return; }
  if (state.kind && item.kind !== state.kind) return;
  // written just before the page loaded: it is on the page already
  if ([...list.children].some((li) => li.dataset.ref === item.ref)) return;
  if (!list.querySelector("li[data-kind]")) list.replaceChildren();  // the «Пока тихо» placeholder
  list.prepend(row(item, true));
  while (list.children.length > SHOWN) list.lastElementChild.remove();
});

const WORDS = { inbound: "Входящий звонок", outbound: "Исходящий звонок", internal: "Внутренний звонок", answered: "принят", missed: "пропущен",
  busy: "занято", cancelled: "отменён", failed: "не прошёл", "no-answer": "без ответа" };
function callText(text) {
  const [direction, disposition] = String(text).split(" ");
  return `${WORDS[direction] || direction}, ${WORDS[disposition] || disposition}`;
}
