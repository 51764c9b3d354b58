// The Devices view: members and their sync state, renaming this device,
// revoking a lost one, and adding a device from the link it shows (reverse flow).
import { api } from "./api.js";
import { confirmDialog } from "./confirm.js";
import { $, busy, clearError, coalesce, fill, groupCode, h, keepFocusIn, showError, shown, timeEl } from "./dom.js";
import { toast } from "./toast.js";

const FOUND_BY = {
  pairing: "paired here",
  static: "static peer",
  mdns: "found on the LAN",
  incoming: "it connected here",
  remembered: "known address",
};

let hooks = { onRenamed: () => {} };
let thisDevice = null;

export function initDevices(options) {
  hooks = { ...hooks, ...options };
  $("#rename-form").addEventListener("submit", rename);
  $("#pair-form").addEventListener("submit", startPair);
  $("#rename-input").addEventListener("input", (e) => e.target.removeAttribute("aria-invalid"));
  $("#pair-link").addEventListener("input", (e) => e.target.removeAttribute("aria-invalid"));
}

export const refreshDevices = coalesce(async () => {
  const [{ devices }, { peers }] = await Promise.all([api("GET", "/devices"), api("GET", "/peers")]);
  render(devices, new Map(peers.map((p) => [p.device, p])));
});

function render(devices, peers) {
  const self = devices.find((d) => d.this_device);
  if (self) {
    thisDevice = self;
    const input = $("#rename-input");
    if (document.activeElement !== input) input.value = shown(self.name);
    $("#this-device-id").textContent = self.id;
  }
  const names = new Map(devices.map((d) => [d.id, d.name]));
  const ordered = [...devices].sort(
    (a, b) =>
      Number(b.this_device) - Number(a.this_device) ||
      Number(a.revoked) - Number(b.revoked) ||
      a.name.localeCompare(b.name),
  );
  $("#device-list").replaceChildren(...ordered.map((d) => row(d, peers.get(d.id), names)));
}

function status(device, peer) {
  if (device.revoked) return ["Revoked", "pill-danger"];
  if (device.forked) return ["Forked", "pill-danger"];
  if (device.this_device) return ["This device", "pill-accent"];
  if (device.connected || peer?.connected) return ["Connected", "pill-ok"];
  return ["Offline", "pill-quiet"];
}

function row(device, peer, names) {
  const [text, cls] = status(device, peer);
  const details = [];
  if (device.added_by) {
    details.push(h("span", {}, "added by ", names.get(device.added_by) ?? device.added_by, " ", timeEl(device.added_at)));
  } else if (device.added_at) {
    details.push(h("span", {}, "made the vault ", timeEl(device.added_at)));
  } else {
    details.push(h("span", {}, "made the vault"));
  }
  if (device.revoked) {
    const by = names.get(device.removed_by) ?? device.removed_by;
    details.push(h("span", { testid: "device-removed" }, "removed by ", by ?? "another device", " ", timeEl(device.removed_at)));
  }
  if (device.forked && !device.revoked) {
    details.push(
      h("span", { class: "text-warn", testid: "device-forked" }, "its log forked (a copied home, or tampering): revoke it"),
    );
  }
  if (!device.this_device && !device.revoked) {
    const connected = device.connected || Boolean(peer?.connected);
    const seen = peer?.last_seen ?? device.last_seen;
    const synced = peer?.last_sync ?? device.last_sync;
    // Offline: when it was last seen, kept by the daemon across restarts.
    if (!connected && seen) details.push(h("span", { testid: "device-last-seen" }, "last seen ", timeEl(seen)));
    // Never met directly: what it wrote still arrives through the others.
    else if (!connected && device.last_write) {
      details.push(h("span", { testid: "device-last-write" }, "wrote ", timeEl(device.last_write), ", through others"));
    }
    if (synced) details.push(h("span", { testid: "device-last-sync" }, "synced ", timeEl(synced)));
    else details.push(h("span", { testid: "device-last-sync" }, "never synced"));
    if (peer && peer.lacks !== null && peer.lacks !== undefined) details.push(lacks(peer));
    if (peer?.address) {
      const how = FOUND_BY[peer.found_by] ?? peer.found_by;
      details.push(h("span", { class: "mono-soft" }, peer.address, how ? ` (${how})` : ""));
    }
  }
  let action = null;
  if (!device.this_device && !device.revoked) {
    action = h(
      "button",
      { type: "button", class: "btn btn-small btn-danger-ghost", testid: "revoke-button", "aria-label": `Revoke ${device.name}` },
      "Revoke",
    );
    action.addEventListener("click", () => revoke(device, action));
  }
  const sep = () => h("span", { class: "sep", "aria-hidden": "true" }, "·");
  const detailNodes = details.flatMap((d, i) => (i ? [sep(), d] : [d]));
  return h(
    "li",
    {
      class: `row device${device.revoked ? " revoked" : ""}`,
      testid: "device-row",
      dataset: { deviceId: device.id, connected: String(device.connected || Boolean(peer?.connected)) },
    },
    h("span", { class: `device-dot ${cls}`, "aria-hidden": "true" }),
    h(
      "div",
      { class: "row-main" },
      h(
        "div",
        { class: "row-title" },
        h("span", { testid: "device-name" }, device.name),
        h("span", { class: `pill ${cls}`, testid: "device-status" }, text),
      ),
      h("div", { class: "row-sub muted small" }, h("code", { class: "device-id" }, device.id)),
      h("div", { class: "row-sub muted small details" }, detailNodes),
    ),
    action,
  );
}

// Exact while connected (the peer acknowledges what it gets); else an estimate, as of when.
function lacks(peer) {
  const n = peer.lacks;
  const changes = `${n} change${n === 1 ? "" : "s"} to send`;
  if (peer.lacks_exact) {
    return h("span", { testid: "device-lacks", class: n > 0 ? "text-warn" : "", dataset: { exact: "true" } }, n > 0 ? changes : "up to date");
  }
  const asOf = peer.lacks_known_at ? [" as of ", timeEl(peer.lacks_known_at)] : [];
  return h(
    "span",
    { testid: "device-lacks", dataset: { exact: "false" }, title: "An estimate: what it held when last connected" },
    n > 0 ? `about ${changes}` : "was up to date",
    ...asOf,
  );
}

async function rename(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("#rename-error");
  clearError(error, form);
  const name = form.elements.name.value.trim();
  if (!name) {
    showError(error, { detail: "Give this device a name.", field: "name" }, form);
    return;
  }
  if (thisDevice && name === shown(thisDevice.name)) return;
  await busy(event.submitter ?? $('[type="submit"]', form), async () => {
    try {
      const device = await api("PATCH", "/devices/self", { name });
      thisDevice = device;
      toast(`This device is now called ${device.name}`, { kind: "success" });
      hooks.onRenamed(device);
      await refreshDevices();
    } catch (err) {
      if (err.status !== 401) showError(error, err, form);
    }
  });
}

async function revoke(device, button) {
  const ok = await confirmDialog({
    title: `Revoke ${device.name}?`,
    body: [
      "Revoke a device that is lost, stolen or no longer yours. It is removed from the vault and the vault key is changed: it gets nothing written from now on, and what it writes reaches no one.",
      "It keeps the accounts it already holds. If it is lost, change the secrets of your important accounts at their sites.",
      "This cannot be undone: to use it again, pair it as a new device.",
    ],
    confirm: "Revoke",
  });
  if (!ok) return;
  await busy(button, async () => {
    try {
      const revoked = await api("POST", `/devices/${encodeURIComponent(device.id)}/revoke`);
      toast(`${revoked.name} was revoked`, { kind: "success" });
      await refreshDevices();
    } catch (err) {
      if (err.status !== 401) toast(err.detail, { kind: "error" });
    }
  });
}

// Reverse flow: a new device shows a link; this member scans (pastes) it.

let pairing = null; // the last Joining object of POST/GET /pair

async function startPair(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("#pair-error");
  clearError(error, form);
  const link = form.elements.link.value.trim();
  if (!link) {
    showError(error, { detail: "Paste the twofold://pair/… link the new device shows.", field: "link" }, form);
    return;
  }
  await busy(event.submitter ?? $('[type="submit"]', form), async () => {
    try {
      pairing = await api("POST", "/pair", { link });
      form.reset();
      renderPair();
      followPair();
    } catch (err) {
      if (err.status !== 401) showError(error, err, form);
    }
  });
}

const SETTLED = new Set(["accepted", "joined", "declined", "failed", "cancelled", "expired"]);
let pollTimer = null;

// Events drive the updates, but one may have come before POST /pair answered:
// fetch once now, then every two seconds until the pairing settles.
function followPair() {
  clearTimeout(pollTimer);
  const step = async () => {
    try {
      await refreshPair();
    } catch {
      /* shown on the next try, or the session is over */
    }
    if (pairing && !SETTLED.has(pairing.state)) pollTimer = setTimeout(step, 2000);
  };
  step();
}

/** Fetch the reverse-flow pairing's state (after a pairing event). */
export const refreshPair = coalesce(async () => {
  if (!pairing) return;
  try {
    pairing = await api("GET", "/pair");
  } catch (err) {
    if (err.status === 404) pairing = null;
    else throw err;
  }
  renderPair();
});

let pairDrawn = null; // what renderPair last drew

function renderPair() {
  const box = $("#pair-status");
  if (!pairing) {
    box.hidden = true;
    box.replaceChildren();
    pairDrawn = null;
    return;
  }
  box.hidden = false;
  box.dataset.state = pairing.state;
  // Draw only what changed: a redraw on every poll would take focus off the person's button.
  const key = JSON.stringify([pairing.state, pairing.peer ?? null, pairing.code ?? null, pairing.error ?? null]);
  if (key === pairDrawn) return;
  const was = pairDrawn === null ? null : JSON.parse(pairDrawn)[0];
  pairDrawn = key;
  const focused = box.contains(document.activeElement) ? document.activeElement : null;
  drawPair(box);
  if (pairing.state === "confirming" && was !== "confirming") {
    // Once, when it comes: show the code and focus it, not a button: the person must
    // compare it with the one the new device shows before deciding.
    const code = $('[data-testid="pair-code"]', box);
    code.scrollIntoView({ block: "center" });
    code.focus({ preventScroll: true });
  } else if (focused && !box.contains(document.activeElement)) {
    // What had focus was redrawn: focus its like, or the new content.
    const testid = focused.dataset.testid;
    const same = testid && $(`[data-testid="${testid}"]`, box);
    if (!same) box.tabIndex = -1;
    (same || box).focus({ preventScroll: true });
  }
}

function drawPair(box) {
  const name = pairing.peer?.name ?? "The new device";
  const decide = (accept) => async (event) => {
    await busy(event.currentTarget, async () => {
      try {
        pairing = await api("POST", accept ? "/pair/accept" : "/pair/decline");
        renderPair();
        keepFocusIn($("#pair-status"));
      } catch (err) {
        if (err.status !== 401) showError($("#pair-error"), err);
      }
    });
  };
  const parts = [];
  switch (pairing.state) {
    case "confirming":
      parts.push(
        h("p", {}, h("strong", {}, name), " wants to join this vault. Check that it shows this code:"),
        h("p", { class: "big-code", testid: "pair-code", tabindex: "-1" }, groupCode(pairing.code ?? "")),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "btn", testid: "pair-decline", onclick: decide(false) }, "Decline"),
          h(
            "button",
            { type: "button", class: "btn btn-primary", testid: "pair-accept", onclick: decide(true) },
            "The codes match: add it",
          ),
        ),
      );
      break;
    case "waiting":
      // Both people decide: the device is added once its own person accepts too.
      parts.push(
        h(
          "p",
          { class: "invite-status", testid: "pair-waiting" },
          h("span", { class: "spinner", "aria-hidden": "true" }),
          h("span", {}, `Waiting for ${name} to confirm the code on its side…`),
        ),
      );
      break;
    case "accepted":
    case "syncing":
    case "joined":
      parts.push(h("p", { class: "text-ok" }, `${name} was added to the vault.`));
      break;
    case "declined":
      parts.push(
        h(
          "p",
          {},
          pairing.error === "the other device declined"
            ? `${name} declined to join: nothing was added.`
            : `${name} was turned away.`,
        ),
      );
      break;
    case "failed":
      parts.push(h("p", { class: "text-danger" }, pairing.error || "Pairing failed."));
      break;
    default:
      parts.push(h("p", { class: "muted" }, "Connecting to the new device…"));
  }
  fill(box, parts);
}

export function hasPairing() {
  return pairing !== null;
}

