// Click-to-call from any page: the employee's own phone rings first, then the number (POST /api/calls/originate).
import { api } from "./api.js";
import { phone as fmtPhone } from "./format.js";
import { icon } from "./icons.js";
import { session } from "./shell.js";
import { button, toast, toastError } from "./ui.js";

export function dial(number) {
  return api("/api/calls/originate", { method: "POST", body: { extension: session.me.extension, number } })
    .then(() => toast("Звоним: сначала зазвонит ваш телефон"))
    .catch(toastError);
}

// A handset button that calls `number`; none for someone without an extension (nothing would ring).
export function callButton(number, { testid = "call-phone", label = null } = {}) {
  if (!number || !session.me?.extension) return null;
  return button(label || icon("phone"), (e) => { e.preventDefault(); e.stopPropagation(); dial(number); },
    { size: "sm", kind: "ghost", title: `Позвонить ${fmtPhone(number)}`, testid });
}
