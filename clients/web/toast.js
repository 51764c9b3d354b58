// One toast at a time, at the bottom of the screen, announced politely.
import { h } from "./dom.js";

let region = null;
let current = null;

export function initToasts(el) {
  region = el;
}

/**
 * toast("Copied"), or toast("Moved to the trash", {action: "Undo", onAction}).
 * kind: "info" | "success" | "error".
 */
export function toast(message, { action = null, onAction = null, kind = "info", timeout } = {}) {
  if (!region) return;
  dismiss();
  const el = h("div", { class: `toast toast-${kind}`, testid: "toast", dataset: { kind } });
  el.append(h("span", { class: "toast-message", testid: "toast-message" }, message));
  if (action && onAction) {
    el.append(
      h(
        "button",
        {
          type: "button",
          class: "toast-action",
          testid: "toast-action",
          onclick: () => {
            dismiss();
            onAction();
          },
        },
        action,
      ),
    );
  }
  el.append(
    h(
      "button",
      { type: "button", class: "toast-close", "aria-label": "Dismiss", testid: "toast-close", onclick: dismiss },
      "×",
    ),
  );
  region.append(el);
  const ms = timeout ?? (action ? 8000 : kind === "error" ? 7000 : 2500);
  let timer = setTimeout(dismiss, ms);
  // Keep it while the pointer or focus is on it: the Undo must stay reachable.
  const hold = () => clearTimeout(timer);
  const release = () => {
    clearTimeout(timer);
    timer = setTimeout(dismiss, 2500);
  };
  el.addEventListener("mouseenter", hold);
  el.addEventListener("focusin", hold);
  el.addEventListener("mouseleave", release);
  el.addEventListener("focusout", release);
  current = { el, stop: () => clearTimeout(timer) };
}

export function dismiss() {
  if (!current) return;
  current.stop();
  current.el.remove();
  current = null;
}
