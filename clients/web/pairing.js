// "Add a device": open an invitation, show its QR code and link, follow it,
// and compare the six-digit code when a device answers.
import { api } from "./api.js";
import { $, $$, busy, coalesce, fill, groupCode, h, icon } from "./dom.js";
import { toast } from "./toast.js";

const LIVE = new Set(["open", "confirming", "waiting"]);

let dialog;
let body;
let invitation = null;
let rendered = null; // the state last drawn
let ticker = null;
let hooks = { onAccepted: () => {} };

export function initPairing(options) {
  hooks = { ...hooks, ...options };
  dialog = $("#invite-dialog");
  body = $("#invite-body");
  body.tabIndex = -1; // focus stays in the dialog when the button pressed goes away
  for (const button of $$("[data-close]", dialog)) button.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", onClose);
}

/** The vault locked: stop following the invitation and drop it. */
export function forgetPairing() {
  clearInterval(ticker);
  ticker = null;
  invitation = null;
  rendered = null;
}

export async function openInvite() {
  invitation = null;
  rendered = null;
  fill(
    body,
    h("p", { class: "muted", testid: "invite-state", dataset: { state: "starting" } }, "Opening an invitation…"),
  );
  dialog.showModal();
  try {
    invitation = await api("POST", "/invitations", {});
    render();
    clearInterval(ticker);
    ticker = setInterval(onTick, 1000);
  } catch (err) {
    if (err.status === 401) return;
    fill(
      body,
      h("p", { class: "form-error", role: "alert", testid: "invite-error" }, err.detail),
      actions(closeButton()),
    );
  }
}

/** A pairing event: refetch the invitation if it is ours (or if the event names none). */
export function onPairingEvent(data) {
  if (!invitation || !dialog.open) return;
  if (data?.invitation && data.invitation !== invitation.id) return;
  refresh().catch(() => {});
}

const refresh = coalesce(async () => {
  if (!invitation) return;
  const fresh = await api("GET", `/invitations/${invitation.id}`);
  // GET answers with the QR code too; keep what we had if it does not.
  invitation = { ...invitation, ...fresh };
  render();
});

let pollCount = 0;
function onTick() {
  if (!invitation || !dialog.open) return;
  updateExpiry();
  // Events drive the page; a slow poll is the safety net.
  pollCount += 1;
  if (LIVE.has(invitation.state) && (pollCount % 3 === 0 || secondsLeft() <= 0)) refresh().catch(() => {});
}

function secondsLeft() {
  return Math.round((new Date(invitation.expires_at).getTime() - Date.now()) / 1000);
}

function updateExpiry() {
  const el = $('[data-testid="invite-expiry"]', body);
  if (!el) return;
  const left = Math.max(0, secondsLeft());
  const m = Math.floor(left / 60);
  const s = String(left % 60).padStart(2, "0");
  el.textContent = left > 0 ? `Expires in ${m}:${s}` : "Expired";
  el.classList.toggle("text-warn", left <= 60);
}

function render() {
  const inv = invitation;
  body.dataset.state = inv.state;
  // Draw only what changed: a redraw on every poll would take focus off the person's button.
  const key = JSON.stringify([inv.state, inv.peer ?? null, inv.error ?? null]);
  if (rendered === key) {
    updateExpiry();
    return;
  }
  const was = rendered === null ? null : JSON.parse(rendered)[0];
  rendered = key;
  // In the modal dialog, focus on nothing (a pressed button went disabled) was in it too.
  const active = document.activeElement;
  const focused = !active || active === document.body || body.contains(active);
  draw(inv, was);
  if (focused && dialog.open && !body.contains(document.activeElement)) {
    // What had focus was redrawn: focus its like, or the new content.
    const testid = active?.dataset?.testid;
    const same = testid && $(`[data-testid="${testid}"]`, body);
    (same || body).focus({ preventScroll: true });
  }
}

function draw(inv, was) {
  switch (inv.state) {
    case "open":
      fill(body, ...openView(inv));
      updateExpiry();
      break;
    case "confirming":
      fill(body, ...confirmView(inv));
      if (was !== "confirming") {
        // Once, when it comes: show the code and focus it, not a button: the person
        // must compare it before deciding.
        const code = $('[data-testid="invite-code"]', body);
        code.scrollIntoView({ block: "center" });
        code.focus({ preventScroll: true });
      }
      break;
    case "waiting":
      // This side said yes; the device is added once its own person accepts too.
      fill(
        body,
        stateLine("waiting", `Waiting for ${inv.peer?.name ?? "the new device"} to confirm the code on its side…`),
        h("p", { class: "big-code", testid: "invite-code" }, groupCode(inv.peer?.code ?? "")),
        h("p", { class: "muted small" }, "Nothing is added until both of you accept."),
        actions(cancelButton()),
      );
      break;
    case "accepted":
      fill(
        body,
        stateLine("accepted", `${inv.peer?.name ?? "The device"} was added to the vault.`, "text-ok"),
        h("p", { class: "muted" }, "It is fetching the accounts now; it shows up under Devices."),
        actions(closeButton(true)),
      );
      hooks.onAccepted(inv);
      break;
    default: {
      const who = inv.peer?.name ?? "The device";
      const why = {
        declined:
          inv.error === "the other device declined"
            ? `${who} declined to join: nothing was added.`
            : "The device was turned away.",
        failed: `Pairing failed${inv.error ? `: ${inv.error}` : ""}. Open a new invitation to try again.`,
        cancelled: "This invitation was cancelled.",
        expired: "This invitation expired before a device used it.",
      }[inv.state] ?? `The invitation is ${inv.state}.`;
      fill(
        body,
        stateLine(inv.state, why, inv.state === "failed" ? "text-danger" : ""),
        actions(
          closeButton(),
          h("button", { type: "button", class: "btn btn-primary", testid: "invite-again", onclick: () => openInvite() }, "New invitation"),
        ),
      );
    }
  }
}

function openView(inv) {
  const img = h("img", {
    class: "qr",
    testid: "invite-qr",
    alt: "QR code of the invitation link",
    width: "220",
    height: "220",
  });
  if (inv.qr_png) img.src = `data:image/png;base64,${inv.qr_png}`;
  const link = h("input", {
    class: "mono",
    id: "invite-link",
    testid: "invite-link",
    readonly: true,
    value: inv.link,
    "aria-label": "Invitation link",
    spellcheck: "false",
  });
  link.addEventListener("focus", () => link.select());
  const copy = h(
    "button",
    { type: "button", class: "btn", testid: "invite-copy" },
    icon("copy", "icon icon-sm"),
    h("span", {}, "Copy"),
  );
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(inv.link);
      toast("Link copied", { kind: "success" });
    } catch {
      link.focus();
      toast("Could not copy: select the link and copy it yourself.", { kind: "error" });
    }
  });
  return [
    h("p", {}, "On the new device, scan this QR code with Twofold, or run ", h("code", {}, "twofold join"), " with the link."),
    h("div", { class: "qr-frame" }, img),
    h("div", { class: "copy-row" }, link, copy),
    h(
      "p",
      { class: "invite-status" },
      h("span", { class: "spinner", "aria-hidden": "true" }),
      h("span", { testid: "invite-state", dataset: { state: "open" } }, "Waiting for the new device…"),
      h("span", { class: "muted small push", testid: "invite-expiry" }),
    ),
    h("p", { class: "muted small" }, "Anyone with this link can ask to join until it expires; you will still compare a code before they get in."),
    actions(cancelButton()),
  ];
}

function confirmView(inv) {
  const name = inv.peer?.name ?? "A device";
  const decide = (accept) => async (event) => {
    await busy(event.currentTarget, async () => {
      try {
        const fresh = await api("POST", `/invitations/${inv.id}/${accept ? "accept" : "decline"}`);
        invitation = { ...invitation, ...fresh };
        render();
      } catch (err) {
        if (err.status !== 401) toast(err.detail, { kind: "error" });
        refresh().catch(() => {});
      }
    });
  };
  return [
    stateLine("confirming", "A device answered the invitation."),
    h("p", {}, h("strong", { testid: "invite-peer-name" }, name), " wants to join. Check that it shows this code:"),
    h("p", { class: "big-code", testid: "invite-code", tabindex: "-1" }, groupCode(inv.peer?.code ?? "")),
    inv.peer?.device ? h("p", { class: "muted small" }, "Device ID ", h("code", {}, inv.peer.device)) : null,
    h("p", { class: "muted small" }, "If the codes differ, decline: someone else may be using the link."),
    actions(
      h("button", { type: "button", class: "btn", testid: "invite-decline", onclick: decide(false) }, "Decline"),
      h("button", { type: "button", class: "btn btn-primary", testid: "invite-accept", onclick: decide(true) }, "The codes match: add it"),
    ),
  ];
}

function stateLine(state, text, cls = "") {
  return h("p", { class: `invite-state-line ${cls}`, testid: "invite-state", dataset: { state } }, text);
}

function actions(...buttons) {
  return h("div", { class: "dialog-actions" }, buttons);
}

function closeButton(primary = false) {
  return h(
    "button",
    { type: "button", class: `btn ${primary ? "btn-primary" : "btn-ghost"}`, testid: "invite-close", onclick: () => dialog.close() },
    "Close",
  );
}

function cancelButton() {
  return h(
    "button",
    { type: "button", class: "btn btn-ghost", testid: "invite-cancel", onclick: () => dialog.close() },
    "Cancel",
  );
}

// Closing the dialog while the invitation is still live cancels it: a link
// nobody is watching should not stay usable.
async function onClose() {
  clearInterval(ticker);
  ticker = null;
  const inv = invitation;
  invitation = null;
  rendered = null;
  if (inv && LIVE.has(inv.state)) {
    try {
      await api("DELETE", `/invitations/${inv.id}`);
    } catch (err) {
      if (err.status !== 401 && err.status !== 404 && err.status !== 409) toast(err.detail, { kind: "error" });
    }
  }
}
