// Twofold's local web page: the session, the views, and live events.
import { forgetEdit, initAccounts, openEdit, refreshTrash } from "./accounts.js";
import { initAdd, openAdd } from "./add.js";
import { api, lockChanged, setCsrf, whenLocked, whenSignedOut } from "./api.js";
import { clearSearch, forget, highlight, initCodes, refreshCodes } from "./codes.js";
import { initConflicts, refreshConflicts } from "./conflicts.js";
import { hasPairing, initDevices, refreshDevices, refreshPair } from "./devices.js";
import { $, $$, clearError, h, icon, showError, shown } from "./dom.js";
import { forgetJoin, initJoin, onJoinEvent } from "./join.js";
import { forgetPairing, initPairing, onPairingEvent, openInvite } from "./pairing.js";
import { initStanding, refreshStanding } from "./standing.js";
import { dismiss, initToasts, toast } from "./toast.js";
import { forgetTransfer, initTransfer, refreshTransfer } from "./transfer.js";

const VIEWS = ["codes", "conflicts", "trash", "devices", "backup"];

let session = null;
let events = null;
let signedOut = false;
let started = false;
let locked = false; // the vault is locked: the unlock screen shows, nothing of the vault is held
let lockAfter = 0; // minutes without use before the vault locks by itself (status.lock_after)
let deviceName = "";
let retryTimer = null;

function showSignedOut() {
  if (signedOut) return;
  signedOut = true;
  session = null;
  setCsrf(null);
  events?.close();
  events = null;
  for (const dialog of $$("dialog[open]")) dialog.close();
  // Take every account and code off the page, not just out of sight.
  if (started) {
    forget();
    forgetTransfer();
    forgetEdit();
  }
  clearInterval(retryTimer);
  $("#locked").hidden = true;
  $("#unlock-form").reset();
  $("#app")?.remove();
  $("#toasts").replaceChildren();
  $("#loading").hidden = true;
  $("#signed-out").hidden = false;
  document.title = "Twofold: signed out";
}

whenSignedOut(showSignedOut);
whenLocked(() => showLocked());

// Locked mode: the vault shut until its passphrase opens it again.

/** Take everything of the vault off the page (and out of the modules' state), then ask;
 * `reason` is the lock event's ("idle" says why the vault locked by itself). */
function showLocked(reason) {
  if (locked || signedOut || !started) return;
  locked = true;
  const why = $('[data-testid="locked-reason"]');
  why.textContent =
    reason === "idle" && lockAfter
      ? `It locked after ${lockAfter} minute${lockAfter === 1 ? "" : "s"} without use.`
      : "";
  why.hidden = !why.textContent;
  lockChanged(); // answers still on their way are dropped
  clearTimeout(devicesTimer);
  devicesTimer = null;
  forgetJoin();
  forgetPairing();
  for (const dialog of $$("dialog[open]")) dialog.close();
  forget();
  forgetTransfer();
  forgetEdit();
  for (const form of $$("#app form, dialog form")) form.reset();
  for (const id of ["#conflict-list", "#trash-list", "#device-list", "#invite-body"]) $(id).replaceChildren();
  for (const id of ["#pair-status", "#join-status", "#join-camera", "#import-report", "#standing-banner"]) {
    $(id).replaceChildren();
    $(id).hidden = true;
  }
  $("#this-device-id").textContent = "";
  setConflictCount(0);
  $('[data-testid="trash-count"]').hidden = true;
  dismiss();
  $("#toasts").hidden = true; // what fails after this is about the lock: no news
  $("#app").hidden = true;
  $("#unlock-form").reset();
  clearError($("#unlock-error"), $("#unlock-form"));
  $("#unlock-username").value = deviceName;
  $('[data-testid="locked-device"]').textContent = shown(deviceName);
  $("#locked").hidden = false;
  document.title = "Twofold: locked";
  $("#unlock-passphrase").focus();
}

/** The vault opened (here, or elsewhere: the CLI): show it again, fetched afresh. */
function showUnlocked() {
  if (!locked || signedOut) return;
  locked = false;
  lockChanged();
  clearInterval(retryTimer);
  retryTimer = null;
  $("#unlock-form").reset();
  clearError($("#unlock-error"), $("#unlock-form"));
  $('[data-testid="unlock-submit"]').disabled = false;
  $("#locked").hidden = true;
  dismiss();
  $("#toasts").hidden = false;
  $("#app").hidden = false;
  showView();
  refreshAll();
  $("#main").focus({ preventScroll: true });
}

async function unlock(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const input = form.elements.passphrase;
  const error = $("#unlock-error");
  const button = $('[data-testid="unlock-submit"]', form);
  if (button.disabled) return;
  clearError(error, form);
  if (!input.value) {
    showError(error, { detail: "Type the passphrase.", field: "passphrase" }, form);
    return;
  }
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  let waiting = false;
  try {
    await api("POST", "/unlock", { passphrase: input.value });
    showUnlocked();
  } catch (err) {
    if (err.status === 401 || signedOut) return;
    if (err.type === "urn:twofold:problem:wrong-passphrase") {
      showError(error, { detail: "The passphrase is wrong.", field: "passphrase" }, form);
      input.select();
    } else if (err.status === 429) {
      waiting = true;
      countDown(Number(err.retryAfter) || 1);
    } else {
      showError(error, err);
    }
  } finally {
    button.removeAttribute("aria-busy");
    if (!waiting) button.disabled = false;
  }
}

// Too many wrong passphrases: the daemon says when it takes the next one.
function countDown(seconds) {
  const error = $("#unlock-error");
  const button = $('[data-testid="unlock-submit"]');
  let left = Math.ceil(seconds);
  const say = () => {
    error.textContent = `Too many wrong passphrases: try again in ${left} s.`;
  };
  clearInterval(retryTimer);
  button.disabled = true;
  say();
  error.hidden = false;
  retryTimer = setInterval(() => {
    left -= 1;
    if (left > 0) {
      say();
      return;
    }
    clearInterval(retryTimer);
    retryTimer = null;
    clearError(error);
    button.disabled = false;
    const input = $("#unlock-passphrase");
    input.focus();
    input.select();
  }, 1000);
}

async function lockNow(event) {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await api("POST", "/lock");
    showLocked();
  } catch (err) {
    if (err.status === 401) return;
    if (err.status === 409) button.hidden = true; // no passphrase (any more)
    toast(err.detail, { kind: "error" });
  } finally {
    button.disabled = false;
  }
}

/** What GET /status says of the lock: the Lock button, and the screen to show. */
function applyStatus(status) {
  if (!status || signedOut) return;
  lockAfter = status.lock_after ?? 0;
  $("#lock").hidden = !status.passphrase;
  if (status.locked) showLocked();
  else showUnlocked();
}

const refreshStatus = () =>
  refreshStanding()
    .then(applyStatus)
    .catch(report);

function currentView() {
  const name = location.hash.replace(/^#/, "");
  return VIEWS.includes(name) ? name : "codes";
}

function showView() {
  const view = currentView();
  for (const section of $$(".view")) section.hidden = section.dataset.view !== view;
  for (const tab of $$(".tab")) {
    if (tab.dataset.view === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  document.title = view === "codes" ? "Twofold" : `${view[0].toUpperCase()}${view.slice(1)} · Twofold`;
  refreshView(view);
}

function refreshView(view) {
  const work = {
    codes: refreshCodes,
    conflicts: refreshConflicts,
    trash: refreshTrash,
    devices: refreshDevices,
    backup: refreshTransfer,
  }[view];
  work().catch(report);
}

/** Errors of background fetches: 401 and 423 are handled already; the rest shows once. */
function report(err) {
  if (err?.status === 401 || err?.status === 423 || signedOut || locked) return;
  toast(err?.detail || String(err), { kind: "error" });
}

function setConflictCount(n) {
  const count = $('[data-testid="conflicts-count"]');
  count.textContent = String(n);
  count.hidden = n === 0;
  count.setAttribute("aria-label", `${n} conflict${n === 1 ? "" : "s"}`);
}

// Something changed in the vault: refetch what shows it.
function accountsChanged(ids = []) {
  if (locked) return;
  refreshCodes()
    .then(() => {
      if (ids.length === 1) highlight(ids[0]);
    })
    .catch(report);
  refreshConflicts().catch(report);
  refreshTrash().catch(report);
}

function refreshAll() {
  refreshStatus();
  if (locked) return;
  accountsChanged();
  if (currentView() === "devices") refreshDevices().catch(report);
}

let devicesTimer = null;
function devicesChanged() {
  if (locked || currentView() !== "devices") return;
  // sync events can come in bursts: one refetch per half second at most.
  if (devicesTimer) return;
  devicesTimer = setTimeout(() => {
    devicesTimer = null;
    refreshDevices().catch(report);
  }, 500);
}

function setLive(state, text) {
  const live = $("#live");
  if (!live) return;
  live.dataset.state = state;
  $(".live-text", live).textContent = text;
}

function connectEvents() {
  let lost = false;
  const source = new EventSource("/api/v1/events");
  events = source;
  source.addEventListener("open", () => {
    setLive("live", "Live");
    if (lost) refreshAll(); // anything may have changed while we were away
    lost = false;
  });
  source.addEventListener("error", async () => {
    if (signedOut) return;
    lost = true;
    setLive("connecting", "Reconnecting…");
    if (source.readyState === EventSource.CLOSED) {
      // The server refused the stream (not a dropped connection): signed out?
      try {
        await api("GET", "/session");
      } catch {
        /* 401 shows the signed-out screen; anything else: try again below */
      }
      if (!signedOut && events === source) {
        setTimeout(() => {
          if (!signedOut && events === source) {
            connectEvents();
            refreshAll();
          }
        }, 3000);
      }
    }
  });
  const on = (name, handler) =>
    source.addEventListener(name, (event) => {
      let data = {};
      try {
        data = JSON.parse(event.data || "{}");
      } catch {
        data = {};
      }
      if (!locked || name === "lock") handler(data);
    });
  on("lock", (data) => {
    if (data.locked === true) showLocked(data.reason);
    else if (data.locked === false) showUnlocked();
  });
  on("accounts", () => accountsChanged());
  on("devices", () => {
    devicesChanged();
    refreshStatus();
    refreshConflicts().catch(report);
    // This device may have been renamed elsewhere (the CLI): keep the header right.
    api("GET", "/session")
      .then((fresh) => {
        deviceName = fresh.device.name;
        $('[data-testid="session-device"]').textContent = shown(fresh.device.name);
      })
      .catch(() => {});
  });
  on("peers", devicesChanged);
  on("sync", devicesChanged);
  on("pairing", (data) => {
    onPairingEvent(data);
    onJoinEvent(data);
    if (hasPairing()) refreshPair().catch(report);
    if (data.state === "accepted") devicesChanged();
  });
}

async function signOut() {
  try {
    await api("DELETE", "/session");
  } catch (err) {
    if (err.status !== 401) {
      toast(err.detail, { kind: "error" });
      return;
    }
  }
  showSignedOut();
}

function wire() {
  initToasts($("#toasts"));
  initCodes({ onEdit: openEdit });
  initAdd({ onAdded: (ids) => accountsChanged(ids) });
  initAccounts({
    onChanged: (ids) => accountsChanged(ids),
    onRestored: (id) => accountsChanged([id]),
  });
  initConflicts({ onResolved: (ids) => accountsChanged(ids), onCount: setConflictCount });
  initDevices({
    onRenamed: (device) => {
      deviceName = device.name;
      $('[data-testid="session-device"]').textContent = shown(device.name);
    },
  });
  initPairing({ onAccepted: () => refreshDevices().catch(report) });
  initJoin({ onJoined: () => refreshAll() });
  initStanding({ onNewVault: () => refreshAll() });
  initTransfer({ onImported: (ids) => accountsChanged(ids) });
  for (const dialog of $$("dialog")) closeOnBackdrop(dialog);

  const add = $("#add-button");
  add.prepend(icon("plus"));
  add.addEventListener("click", () => openAdd());
  $("#empty-add-button").addEventListener("click", () => openAdd());
  $("#add-device-button").prepend(icon("plus"));
  $("#add-device-button").addEventListener("click", () => openInvite());
  $("#sign-out").prepend(icon("signout", "icon icon-sm"));
  $("#sign-out").addEventListener("click", signOut);
  $("#lock").prepend(icon("lock", "icon icon-sm"));
  $("#lock").addEventListener("click", lockNow);
  $("#unlock-form").addEventListener("submit", unlock);
  $("#unlock-passphrase").addEventListener("input", (e) => e.target.removeAttribute("aria-invalid"));
  $("#locked-sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", () => {
    showView();
    $("#main").focus({ preventScroll: true });
  });
  // "n" opens the add dialog from the codes list.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "n" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest?.("input, textarea, select, dialog, [contenteditable]")) return;
    if (currentView() !== "codes" || $("dialog[open]")) return;
    event.preventDefault();
    clearSearch();
    openAdd();
  });
  // The tab came back (laptop woke up): codes went stale while it slept.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !signedOut && !locked) refreshCodes().catch(report);
  });
}

// When the session's time is up, ask: a 401 takes the codes off the screen at once.
function watchExpiry(expiresAt) {
  const ms = new Date(expiresAt).getTime() - Date.now();
  if (!Number.isFinite(ms)) return;
  setTimeout(
    () => {
      if (signedOut) return;
      api("GET", "/session")
        .then((fresh) => watchExpiry(fresh.expires_at))
        .catch(() => {});
    },
    Math.min(Math.max(ms + 1000, 10_000), 2 ** 31 - 1),
  );
}

// A click on a dialog's backdrop closes it, as Esc does.
function closeOnBackdrop(dialog) {
  let downOutside = false;
  const outside = (event) => {
    const r = dialog.getBoundingClientRect();
    return (
      event.target === dialog &&
      (event.clientX < r.left || event.clientX > r.right || event.clientY < r.top || event.clientY > r.bottom)
    );
  };
  dialog.addEventListener("pointerdown", (event) => {
    downOutside = outside(event);
  });
  dialog.addEventListener("click", (event) => {
    if (downOutside && outside(event)) dialog.close();
    downOutside = false;
  });
}

async function start() {
  try {
    session = await api("GET", "/session");
  } catch (err) {
    if (err.status === 401) return; // the signed-out screen is up
    const loading = $("#loading");
    loading.removeAttribute("aria-busy");
    loading.dataset.testid = "load-error";
    loading.replaceChildren(
      h(
        "div",
        { class: "screen-card" },
        h("h1", {}, "Twofold is not answering"),
        h("p", { class: "muted" }, err.detail),
        h("button", { type: "button", class: "btn", onclick: () => location.reload() }, "Try again"),
      ),
    );
    return;
  }
  setCsrf(session.csrf_token);
  watchExpiry(session.expires_at);
  wire();
  started = true;
  deviceName = session.device.name;
  $('[data-testid="session-device"]').textContent = shown(session.device.name);
  connectEvents();
  let status = null;
  try {
    status = await refreshStanding();
  } catch (err) {
    report(err);
  }
  if (signedOut) return;
  $("#loading").hidden = true;
  lockAfter = status?.lock_after ?? 0;
  $("#lock").hidden = !status?.passphrase;
  if (status?.locked) {
    showLocked();
    return;
  }
  $("#app").hidden = false;
  showView();
  refreshConflicts().catch(report);
  refreshTrash().catch(report);
}

start();
