// One toast at a time, at the bottom of the screen (or at the top, when it would cover
// what it is about), announced politely.
import { h } from "./dom.js";

let region = null;
let current = null;

export function initToasts(el) {
  region = el;
}

/**
 * toast("Copied"), or toast("Moved to the trash", {action: "Undo", onAction}).
 * kind: "info" | "success" | "error".
 * avoid: an element the toast must not cover (the row whose code was copied): while it would,
 * the toast shows at the top of the screen instead.
 */
export function toast(message, { action = null, onAction = null, kind = "info", timeout, avoid = null } = {}) {
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
  current = { el, avoid, stop: () => clearTimeout(timer) };
  if (avoid) {
    place();
    // The page may scroll under it: keep it off the element.
    window.addEventListener("scroll", place, { passive: true, capture: true });
    window.addEventListener("resize", place, { passive: true });
  }
}

// The margin covers the entrance, which starts the toast a little lower than it ends.
const CLEARANCE = 12;

function place() {
  if (!current?.avoid) return;
  region.classList.remove("toast-region-top");
  const a = region.getBoundingClientRect();
  const b = current.avoid.getBoundingClientRect();
  const covers =
    a.left < b.right && b.left < a.right && a.top - CLEARANCE < b.bottom && b.top < a.bottom + CLEARANCE;
  region.classList.toggle("toast-region-top", covers);
}

export function dismiss() {
  if (!current) return;
  current.stop();
  window.removeEventListener("scroll", place, { capture: true });
  window.removeEventListener("resize", place);
  region.classList.remove("toast-region-top");
  current.el.remove();
  current = null;
}
