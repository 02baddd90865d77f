// @mentions of colleagues in text (chat messages, comments on a card): the picker that completes a
// name while typing, and the text with the mentioned names highlighted. The server decides who is
// mentioned (adapters/builtin/mentions.py): «@» and the whole name or login.
import { h, fill } from "./dom.js";
import { initials } from "./format.js";
import { session } from "./shell.js";

// Typing «@Ев» in `text` offers `people()` (not me) whose names start so; a click puts the whole name in.
export function mentionHelper(text, people) {
  const box = h("div", { class: "mention-list", hidden: true, "data-testid": "mention-list" });
  text.addEventListener("input", () => {
    const before = text.value.slice(0, text.selectionStart);
    const m = /@([\p{L}\w-]*)$/u.exec(before);
    const found = m ? people().filter((p) => p.id !== session.me.id && p.name.toLowerCase().startsWith(m[1].toLowerCase())) : [];
    box.hidden = !found.length;
    fill(box, found.slice(0, 6).map((p) => h("button", { type: "button", class: "menu-item", "data-testid": "mention-option", onclick: () => {
      text.value = `${before.slice(0, before.length - m[0].length)}@${p.name} ${text.value.slice(text.selectionStart)}`;
      box.hidden = true;
      text.focus();
    } }, h("span", { class: "avatar" }, initials(p.name)), p.name)));
  });
  return box;
}

// `text` with «@Имя Фамилия» of `people` as highlighted names; the rest as plain text.
export function withMentions(text, people) {
  const names = people.map((p) => p.name).filter(Boolean).sort((a, b) => b.length - a.length);
  if (!names.length || !text.includes("@")) return [text];
  const escaped = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const parts = text.split(new RegExp(`(@(?:${escaped.join("|")}))`, "giu"));
  return parts.map((part, i) => (i % 2 ? h("span", { class: "mention", text: part }) : part));
}
