// The codes list: every account with its live code, a countdown, search, copy.
import { api } from "./api.js";
import { $, avatar, busy, coalesce, groupCode, h, icon, ring, shown } from "./dom.js";
import { toast } from "./toast.js";

const WARN_SECONDS = 5;
const HOTP_SHOWN_MS = 120_000;
const COPIED_MS = 1500;

const state = {
  codes: [], // Code objects, in the API's order
  accounts: new Map(), // id -> Account
  hotp: new Map(), // id -> {code, counter, until}
  rows: new Map(), // id -> row parts
  skew: 0, // seconds to add to the local clock to get the daemon's
  lastFetch: 0,
  loaded: false,
};

let els = {};
let hooks = { onEdit: () => {}, onLoaded: () => {} };

export function initCodes(options) {
  hooks = { ...hooks, ...options };
  els = {
    list: $("#code-list"),
    empty: $("#codes-empty"),
    noMatch: $("#codes-nomatch"),
    search: $("#search"),
    banner: $("#conflict-banner"),
    hint: $("#codes-hint"),
  };
  els.search.addEventListener("input", applyFilter);
  els.search.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && els.search.value) {
      event.preventDefault();
      els.search.value = "";
      applyFilter();
    } else if (event.key === "Enter") {
      // Enter in the search box copies the only (or first) match.
      const first = visibleRows()[0];
      if (first?.codeButton && !first.codeButton.hidden) {
        event.preventDefault();
        first.codeButton.click();
      }
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest?.("input, textarea, select, [contenteditable], dialog")) return;
    if ($("#view-codes").hidden) return;
    event.preventDefault();
    els.search.focus();
  });
  setInterval(tick, 250);
}

/** Fetch codes (and, unless told otherwise, the accounts' details) and draw them. */
export const refreshCodes = coalesce(async () => {
  await load(true);
});

const refreshCodesOnly = coalesce(async () => {
  await load(false);
});

async function load(withAccounts) {
  state.lastFetch = Date.now();
  const [codes, accounts] = await Promise.all([
    api("GET", "/codes"),
    withAccounts ? api("GET", "/accounts") : null,
  ]);
  state.codes = codes.codes;
  if (accounts) state.accounts = new Map(accounts.accounts.map((a) => [a.id, a]));
  estimateSkew();
  state.loaded = true;
  render();
  hooks.onLoaded(state);
}

export function accountById(id) {
  return state.accounts.get(id) ?? null;
}

export function codeById(id) {
  return state.codes.find((c) => c.account_id === id) ?? null;
}

function now() {
  return Date.now() / 1000 + state.skew;
}

// Same machine, same clock, normally; but follow the daemon if they differ a lot.
function estimateSkew() {
  const timed = state.codes.find((c) => c.valid_until !== null && c.seconds_left !== null);
  if (!timed) return;
  const daemonNow = timed.valid_until - timed.seconds_left;
  const diff = daemonNow - Date.now() / 1000;
  state.skew = Math.abs(diff) > 2 ? diff : 0;
}

function render() {
  const seen = new Set();
  const ordered = [];
  for (const code of state.codes) {
    seen.add(code.account_id);
    let row = state.rows.get(code.account_id);
    if (!row) {
      row = makeRow(code.account_id);
      state.rows.set(code.account_id, row);
    }
    updateRow(row, code, state.accounts.get(code.account_id));
    ordered.push(row);
  }
  for (const [id, row] of state.rows) {
    if (!seen.has(id)) {
      row.el.remove();
      state.rows.delete(id);
      state.hotp.delete(id);
    }
  }
  // Move rows only when the order changed: moving a row would take focus off it.
  const current = [...els.list.children];
  if (current.length !== ordered.length || ordered.some((row, i) => current[i] !== row.el)) {
    els.list.replaceChildren(...ordered.map((row) => row.el));
  }
  const conflicted = [...state.accounts.values()].some((a) => a.conflicts.length > 0);
  els.banner.hidden = !conflicted;
  applyFilter();
  tick();
}

function makeRow(id) {
  const row = { id };
  row.avatarSlot = h("span", { class: "avatar-slot" });
  row.issuer = h("span", { class: "issuer", testid: "account-issuer" });
  row.name = h("span", { class: "name", testid: "account-name" });
  row.badge = h(
    "a",
    { class: "badge badge-warn", href: "#conflicts", testid: "conflict-badge", hidden: true },
    icon("alert", "icon icon-xs"),
    "Conflict",
  );
  row.codeButton = h("button", { type: "button", class: "code", testid: "code" });
  row.codeButton.addEventListener("click", () => copyCode(row));
  // Shown beside the code for a moment after a copy; the toast says it to screen readers.
  row.copiedNote = h(
    "span",
    { class: "copied-note", testid: "copied-note", "aria-hidden": "true", hidden: true },
    icon("check", "icon icon-xs"),
    "Copied",
  );
  row.nextButton = h(
    "button",
    { type: "button", class: "btn btn-small next-code", testid: "next-code" },
    icon("counter", "icon icon-sm"),
    h("span", {}, "Next code"),
  );
  row.nextButton.addEventListener("click", () => nextCode(row));
  row.ring = ring();
  row.seconds = h("span", { class: "seconds", testid: "seconds-left" });
  row.timer = h("span", { class: "timer", testid: "timer", role: "img" }, row.ring.el, row.seconds);
  row.counter = h("span", {
    class: "counter-label muted small",
    testid: "hotp-counter",
    title: "The counter this code was made from",
    hidden: true,
  });
  row.edit = h("button", { type: "button", class: "icon-btn row-edit", testid: "edit-button" }, icon("edit"));
  row.edit.addEventListener("click", () => hooks.onEdit(id));
  // The code comes before the edit button in the DOM (and so in the Tab order);
  // the grid puts the button back at the top right.
  row.el = h(
    "li",
    { class: "account", testid: "account-row", dataset: { accountId: id } },
    row.avatarSlot,
    h("div", { class: "who" }, h("div", { class: "issuer-line" }, row.issuer, row.badge), row.name),
    h("div", { class: "account-code" }, row.codeButton, row.copiedNote, row.counter, row.nextButton, row.timer),
    row.edit,
  );
  return row;
}

function updateRow(row, code, account) {
  const issuer = code.issuer;
  const name = code.name;
  const label = shown(issuer || name || "Unnamed account");
  if (row.issuer.textContent !== label) row.issuer.textContent = label;
  const second = issuer ? shown(name) : "";
  if (row.name.textContent !== second) row.name.textContent = second;
  row.name.hidden = !second;
  const avatarKey = `${issuer}\u0000${name}`;
  if (row.avatarKey !== avatarKey) {
    row.avatarSlot.replaceChildren(avatar(issuer, name));
    row.avatarKey = avatarKey;
  }
  row.label = shown([issuer, name].filter(Boolean).join(" ") || "this account");
  row.search = `${issuer}\u0000${name}`.toLowerCase();
  row.edit.setAttribute("aria-label", `Edit ${row.label}`);
  row.edit.title = "Edit";
  const conflicts = account?.conflicts ?? [];
  row.badge.hidden = conflicts.length === 0;
  row.badge.title = conflicts.length ? `Edited on two devices at once: ${conflicts.join(", ")}` : "";
  row.el.classList.toggle("has-conflict", conflicts.length > 0);
  row.kind = code.kind;
  row.el.dataset.kind = code.kind;

  if (code.code !== null) {
    row.value = code.code;
    row.validFrom = code.valid_from;
    row.validUntil = code.valid_until;
    row.codeButton.hidden = false;
    row.nextButton.hidden = true;
    row.counter.hidden = true;
    row.timer.hidden = code.valid_until === null;
  } else {
    // HOTP: no current code; show the last one asked for, for a while.
    const shown = state.hotp.get(code.account_id);
    row.validUntil = null;
    row.timer.hidden = true;
    row.nextButton.hidden = false;
    if (shown && shown.until > Date.now()) {
      row.value = shown.code;
      row.codeButton.hidden = false;
      row.counter.hidden = false;
      row.counter.textContent = `#${shown.counter}`;
      row.nextButton.classList.add("btn-icon-only");
      row.nextButton.setAttribute("aria-label", `Next code for ${row.label}`);
      row.nextButton.title = "Next code";
    } else {
      row.value = null;
      row.codeButton.hidden = true;
      row.counter.hidden = true;
      row.nextButton.classList.remove("btn-icon-only");
      row.nextButton.setAttribute("aria-label", `Next code for ${row.label}`);
      row.nextButton.removeAttribute("title");
    }
  }
  const text = groupCode(row.value);
  if (row.codeButton.textContent !== text) row.codeButton.textContent = text;
  row.codeButton.setAttribute("aria-label", `${text}, copy the code for ${row.label}`);
  row.codeButton.title = "Copy";
}

function tick() {
  const t = now();
  let expired = false;
  for (const row of state.rows.values()) {
    if (row.validUntil === null || row.validUntil === undefined) {
      if (row.kind === "hotp") {
        const shown = state.hotp.get(row.id);
        if (shown && shown.until <= Date.now()) {
          state.hotp.delete(row.id);
          const code = codeById(row.id);
          if (code) updateRow(row, code, state.accounts.get(row.id));
        }
      }
      continue;
    }
    const left = row.validUntil - t;
    if (left <= 0) expired = true;
    const period = Math.max(1, row.validUntil - row.validFrom);
    row.ring.set(left / period);
    const secs = String(Math.max(0, Math.ceil(left)));
    if (row.seconds.textContent !== secs) {
      row.seconds.textContent = secs;
      row.timer.setAttribute("aria-label", `${secs} seconds left`);
    }
    row.el.classList.toggle("expiring", left <= WARN_SECONDS);
    // Still no new code a few seconds after this one ended: the daemon is not answering.
    row.el.classList.toggle("stale", left < -3);
  }
  // A code ran out: fetch the next ones (at most once a second).
  if (expired && Date.now() - state.lastFetch > 1000) {
    refreshCodesOnly().catch(() => {});
  }
}

function visibleRows() {
  return [...els.list.children]
    .filter((li) => !li.hidden)
    .map((li) => state.rows.get(li.dataset.accountId))
    .filter(Boolean);
}

function applyFilter() {
  const query = els.search.value.trim().toLowerCase();
  let shown = 0;
  for (const row of state.rows.values()) {
    const match = !query || row.search.includes(query);
    row.el.hidden = !match;
    if (match) shown += 1;
  }
  const total = state.rows.size;
  els.empty.hidden = total !== 0 || !state.loaded;
  els.noMatch.hidden = !(total > 0 && shown === 0);
  if (!els.noMatch.hidden) els.noMatch.textContent = `No account matches “${els.search.value.trim()}”.`;
  els.hint.hidden = total === 0;
}

async function copyCode(row) {
  const value = row.value;
  if (!value) return;
  try {
    await navigator.clipboard.writeText(value);
  } catch {
    toast("Could not copy: the browser refused access to the clipboard.", { kind: "error" });
    return;
  }
  clearTimeout(row.copiedTimer);
  row.el.classList.add("copied");
  row.copiedNote.hidden = false;
  row.copiedTimer = setTimeout(() => {
    row.el.classList.remove("copied");
    row.copiedNote.hidden = true;
  }, COPIED_MS);
  // The toast stays off the row: it must not cover the code or its countdown.
  toast("Copied", { kind: "success", avoid: row.el });
}

async function nextCode(row) {
  await busy(row.nextButton, async () => {
    try {
      const code = await api("POST", `/accounts/${row.id}/next-code`);
      state.hotp.set(row.id, { code: code.code, counter: code.counter, until: Date.now() + HOTP_SHOWN_MS });
      const current = codeById(row.id);
      if (current) updateRow(row, current, state.accounts.get(row.id));
      row.codeButton.focus();
    } catch (err) {
      if (err.status !== 401) toast(err.detail, { kind: "error" });
    }
  });
}

/** Scroll to a row and flash it (after adding, restoring). */
export function highlight(id) {
  const row = state.rows.get(id);
  if (!row) return;
  if (!row.el.hidden) row.el.scrollIntoView({ block: "nearest", behavior: "smooth" });
  row.el.classList.remove("flash");
  void row.el.offsetWidth;
  row.el.classList.add("flash");
  setTimeout(() => row.el.classList.remove("flash"), 1600);
}

export function clearSearch() {
  if (els.search.value) {
    els.search.value = "";
    applyFilter();
  }
}

export function forget() {
  state.codes = [];
  state.accounts.clear();
  state.hotp.clear();
  for (const row of state.rows.values()) row.el.remove();
  state.rows.clear();
}
