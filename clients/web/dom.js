// Small DOM helpers. Everything from the API goes in through textContent or
// attributes set one by one: nothing is ever parsed as HTML. Text goes through
// neutralise (text.js) on its way in: a character that hides or reorders text shows as
// its escape ("\u202e"), whichever device or file the name came from.
import { neutralise, stripHidden } from "./text.js";

/** Text as the page shows it: refused characters as escapes. Tab and line breaks stay (a
 * note's lines; in a name the daemon refuses them, and HTML shows them as a space). */
export const shown = (text) => neutralise(text, { lines: true });

// Attributes a person reads (tooltips, what a screen reader says) are text too.
const READ_ATTRIBUTES = new Set(["title", "aria-label", "alt", "placeholder"]);

/**
 * Make an element. attrs: class, text, testid, dataset, on<event> handlers,
 * booleans (true sets the attribute, false/null/undefined leaves it out),
 * anything else as an attribute. Children: nodes, strings, arrays, null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = shown(value);
    else if (key === "testid") el.dataset.testid = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "style") {
      throw new Error("no inline styles: use a class");
    } else if (READ_ATTRIBUTES.has(key)) el.setAttribute(key, shown(value));
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(shown(child)));
  }
  return el;
}

/** Replace el's children; null/undefined/false children are left out (not "null"). */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

const SVG = "http://www.w3.org/2000/svg";

// 24x24 stroke icons (drawn for this page).
const ICONS = {
  plus: ["M12 5v14", "M5 12h14"],
  search: ["M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14z", "M20 20l-4.2-4.2"],
  edit: ["M4 20h4L19 9l-4-4L4 16v4z", "M13.5 6.5l4 4"],
  trash: ["M4 7h16", "M10 11v6", "M14 11v6", "M6 7l1 13h10l1-13", "M9 7V4h6v3"],
  restore: ["M4 12a8 8 0 1 0 2.4-5.7", "M4 4v4h4"],
  copy: ["M9 9h11v11H9z", "M5 15H4V4h11v1"],
  check: ["M5 12.5l4.5 4.5L19 7"],
  x: ["M6 6l12 12", "M18 6L6 18"],
  devices: ["M3 6h13v9H3z", "M1 18h17", "M18 9h5v11h-5z"],
  link: ["M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1", "M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"],
  qr: ["M4 4h6v6H4z", "M14 4h6v6h-6z", "M4 14h6v6H4z", "M14 14h2v2h-2z", "M18 18h2v2h-2z", "M14 18h2", "M18 14h2"],
  keyboard: ["M3 6h18v12H3z", "M7 10h.01", "M11 10h.01", "M15 10h.01", "M8 14h8"],
  alert: ["M12 3l10 18H2L12 3z", "M12 10v5", "M12 18h.01"],
  signout: ["M15 4h4v16h-4", "M10 8l-4 4 4 4", "M6 12h10"],
  lock: ["M5 11h14v10H5z", "M8 11V8a4 4 0 0 1 8 0v3"],
  refresh: ["M20 11a8 8 0 0 0-14.5-4.5L4 8", "M4 4v4h4", "M4 13a8 8 0 0 0 14.5 4.5L20 16", "M20 20v-4h-4"],
  shield: ["M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6l8-3z", "M8.5 12l2.5 2.5 4.5-5"],
  upload: ["M12 16V4", "M7 9l5-5 5 5", "M4 16v4h16v-4"],
  counter: ["M5 12h14", "M13 6l6 6-6 6"],
};

export function icon(name, cls = "icon") {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", cls);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of ICONS[name] ?? []) {
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/** A progress ring: returns {el, set(fraction)} (fraction of time left, 0..1). */
export function ring() {
  const r = 9;
  const length = 2 * Math.PI * r;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "ring");
  svg.setAttribute("aria-hidden", "true");
  const track = document.createElementNS(SVG, "circle");
  const bar = document.createElementNS(SVG, "circle");
  for (const c of [track, bar]) {
    c.setAttribute("cx", "12");
    c.setAttribute("cy", "12");
    c.setAttribute("r", String(r));
  }
  track.setAttribute("class", "ring-track");
  bar.setAttribute("class", "ring-bar");
  bar.setAttribute("stroke-dasharray", length.toFixed(3));
  svg.append(track, bar);
  return {
    el: svg,
    set(fraction) {
      const f = Math.min(1, Math.max(0, fraction));
      bar.setAttribute("stroke-dashoffset", (length * (1 - f)).toFixed(3));
    },
  };
}

/** "123456" -> "123 456"; "12345678" -> "1234 5678"; letters (Steam) stay as they are. */
export function groupCode(code) {
  if (!code || !/^\d+$/.test(code) || code.length < 6) return code ?? "";
  const half = Math.floor(code.length / 2);
  return `${code.slice(0, half)} ${code.slice(half)}`;
}

const AVATAR_COLOURS = 8;

/** A stable colour class for an issuer's initial. */
export function avatar(issuer, name) {
  const label = stripHidden(issuer || name || "?").trim() || "?";
  const initial = [...label][0]?.toUpperCase() ?? "?";
  let hash = 0;
  for (const ch of label.toLowerCase()) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return h("span", { class: `avatar avatar-${hash % AVATAR_COLOURS}`, "aria-hidden": "true" }, initial);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export function formatDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateTime.format(d);
}

/** "3 minutes ago", "yesterday", ... */
export function ago(iso) {
  if (!iso) return "";
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return String(iso);
  const seconds = Math.round((then - Date.now()) / 1000);
  const units = [
    ["year", 31536000],
    ["month", 2592000],
    ["week", 604800],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return Math.abs(seconds) < 10 ? "just now" : relative.format(seconds, "second");
}

/** An <time> element showing a relative time, with the full date as its title. */
export function timeEl(iso, text = ago(iso)) {
  return h("time", { datetime: iso, title: formatDate(iso) }, text);
}

export function accountLabel(issuer, name) {
  if (issuer && name) return `${issuer} (${name})`;
  return issuer || name || "Unnamed account";
}

/**
 * Wrap an async function so calls while it runs collapse into one more run
 * after it: the latest state is always fetched, never two fetches at once.
 */
export function coalesce(fn) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await fn();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  };
  return run;
}

/** Show an API error's detail in `el`, and mark the input it names in `form`. */
export function showError(el, err, form = null) {
  el.textContent = shown(err?.detail || err?.message || "Something went wrong.");
  el.hidden = false;
  if (form && err?.field) {
    const input = form.querySelector(`[name="${CSS.escape(err.field)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      const details = input.closest("details");
      if (details) details.open = true;
      input.focus();
    }
  }
}

export function clearError(el, form = null) {
  el.textContent = "";
  el.hidden = true;
  if (form) for (const input of $$("[aria-invalid]", form)) input.removeAttribute("aria-invalid");
}

/** Disable a button while `work` runs; returns work's result. */
export async function busy(button, work) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = was;
    button.removeAttribute("aria-busy");
  }
}

/** The button pressed is gone (or went disabled, and so lost focus): focus the news instead. */
export function keepFocusIn(box) {
  const active = document.activeElement;
  if (box.hidden || (active && active !== document.body && active.isConnected)) return;
  box.tabIndex = -1;
  box.focus({ preventScroll: true });
}

/** A drop zone, highlighted while a file is held over it; `take` gets the files dropped. */
export function dropZone(zone, take) {
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    take([...(event.dataTransfer?.files ?? [])]);
  });
}
