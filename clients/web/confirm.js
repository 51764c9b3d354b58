// A modal yes/no question, on the page's own <dialog>.
import { $, h, shown } from "./dom.js";

/** Resolves true when the person confirms. body: a string or a list of paragraphs. */
export function confirmDialog({ title, body, confirm = "OK", cancel = "Cancel", danger = true }) {
  const dialog = $("#confirm-dialog");
  $("#confirm-title", dialog).textContent = shown(title);
  const paragraphs = Array.isArray(body) ? body : [body];
  $("#confirm-text", dialog).replaceChildren(...paragraphs.map((p) => h("p", {}, p)));
  const ok = $('[data-testid="confirm-ok"]', dialog);
  ok.textContent = confirm;
  ok.className = `btn ${danger ? "btn-danger" : "btn-primary"}`;
  $('[data-testid="confirm-cancel"]', dialog).textContent = cancel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    $('[data-testid="confirm-cancel"]', dialog).focus();
  });
}
