// "Join another vault": this device joins the vault of a device that shows a QR code,
// read by the camera, from a picture of it, or from its pasted link; or it shows its own
// code for a member to scan. Both people confirm: this page shows the code and the vault,
// and nothing of this device's leaves it before its person says yes here.
import { api, toBase64 } from "./api.js";
import { $, busy, clearError, coalesce, fill, groupCode, h, keepFocusIn, showError } from "./dom.js";

const ENDED = new Set(["joined", "declined", "failed", "cancelled", "expired"]);
const PAIR_LINK = /^\s*twofold:\/\/pair\//i;
const SCAN_EVERY_MS = 400;
const FRAME_WIDTH = 640; // enough for a QR code held up to a webcam; small to send

let joining = null; // the last Joining object of GET /join
let offer = null; // the Invitation of POST /offers, while this device shows its code
let camera = null; // { stream, timer, video }
let pollTimer = null;
let rendered = null;
let hooks = { onJoined: () => {} };

export function initJoin(options) {
  hooks = { ...hooks, ...options };
  $("#join-scan").addEventListener("click", (event) => busy(event.currentTarget, startCamera));
  const file = $("#join-file");
  $("#join-pick").addEventListener("click", () => file.click());
  file.addEventListener("change", () => {
    const picked = file.files?.[0];
    file.value = "";
    if (picked) busy($("#join-pick"), () => scanPicture(picked));
  });
  $("#join-show").addEventListener("click", (event) => busy(event.currentTarget, showOffer));
  $("#join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const link = form.elements.link.value.trim();
    if (!link) {
      fail({ detail: "Paste the twofold://pair/… link the other device shows.", field: "link" }, form);
      return;
    }
    busy(event.submitter ?? $('[type="submit"]', form), () => startJoin(link, form));
  });
}

/** A pairing event for this device's joining: fetch its state. */
export function onJoinEvent(data) {
  if (data?.flow === "join" && joining) refreshJoin().catch(() => {});
}

export const refreshJoin = coalesce(async () => {
  try {
    joining = await api("GET", "/join");
  } catch (err) {
    if (err.status === 404) joining = null;
    else throw err;
  }
  render();
});

function fail(err, form = null) {
  showError($("#join-error"), err, form);
}

async function startJoin(link, form = null) {
  clearError($("#join-error"), form);
  stopCamera();
  try {
    joining = await api("POST", "/join", { link });
    offer = null;
    form?.reset();
    follow();
  } catch (err) {
    if (err.status !== 401) fail(err, form);
  }
}

async function showOffer() {
  clearError($("#join-error"));
  stopCamera();
  try {
    offer = await api("POST", "/offers", {});
    joining = { state: "showing", code: null, peer: null, vault: null, error: null };
    follow();
  } catch (err) {
    if (err.status !== 401) fail(err);
  }
}

// Events drive the updates; a slow poll is the safety net until the join ends.
function follow() {
  clearTimeout(pollTimer);
  render();
  const step = async () => {
    try {
      await refreshJoin();
    } catch {
      /* shown on the next try, or the session is over */
    }
    if (joining && !ENDED.has(joining.state)) pollTimer = setTimeout(step, 2000);
  };
  pollTimer = setTimeout(step, 300);
}

// -- the camera ---------------------------------------------------------------------------

async function startCamera() {
  clearError($("#join-error"));
  if (camera) return;
  if (!navigator.mediaDevices?.getUserMedia) {
    fail({ detail: "This browser gives the page no camera: choose a picture of the code, or paste its link." });
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (err) {
    const denied = err?.name === "NotAllowedError";
    fail({
      detail: denied
        ? "The browser did not allow the camera. Allow it for this page, or choose a picture of the code."
        : "No camera could be opened. Choose a picture of the code, or paste its link.",
    });
    return;
  }
  const video = h("video", { class: "join-video", testid: "join-video", playsinline: true, muted: true });
  video.srcObject = stream;
  const box = $("#join-camera");
  fill(
    box,
    video,
    h("p", { class: "muted small", testid: "join-camera-hint" }, "Hold the QR code the other device shows up to the camera."),
    h("div", { class: "actions" }, h("button", { type: "button", class: "btn btn-ghost", testid: "join-camera-stop", onclick: stopCamera }, "Stop the camera")),
  );
  box.hidden = false;
  camera = { stream, video, timer: null, scanning: false };
  try {
    await video.play();
  } catch {
    /* a muted inline video plays; if not, frames are still drawn once data arrives */
  }
  camera.timer = setInterval(scanFrame, SCAN_EVERY_MS);
}

function stopCamera() {
  if (!camera) return;
  clearInterval(camera.timer);
  for (const track of camera.stream.getTracks()) track.stop();
  camera = null;
  const box = $("#join-camera");
  box.hidden = true;
  box.replaceChildren();
}

async function scanFrame() {
  const cam = camera;
  if (!cam || cam.scanning || cam.video.readyState < 2 || !cam.video.videoWidth) return;
  cam.scanning = true;
  try {
    const scale = Math.min(1, FRAME_WIDTH / cam.video.videoWidth);
    const canvas = h("canvas", {
      width: String(Math.round(cam.video.videoWidth * scale)),
      height: String(Math.round(cam.video.videoHeight * scale)),
    });
    canvas.getContext("2d").drawImage(cam.video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    if (!blob || camera !== cam) return;
    const { texts } = await api("POST", "/qr/scan", { content: await toBase64(blob) });
    if (camera === cam) await found(texts, false);
  } catch (err) {
    if (err.status === 401) stopCamera();
  } finally {
    cam.scanning = false;
  }
}

async function scanPicture(file) {
  clearError($("#join-error"));
  try {
    const { texts } = await api("POST", "/qr/scan", { content: await toBase64(file) });
    await found(texts, true);
  } catch (err) {
    if (err.status !== 401) fail(err);
  }
}

/** What a scan saw: join by the first pairing link; say what else it was, if anything. */
async function found(texts, picture) {
  const link = texts.find((text) => PAIR_LINK.test(text));
  if (link) {
    await startJoin(link.trim());
    return;
  }
  if (texts.some((text) => /^\s*(otpauth|motp|otpauth-migration):/i.test(text))) {
    stopCamera();
    fail({ detail: "That QR code is an account's key, not a device's: add it with Add account." });
  } else if (texts.length) {
    stopCamera();
    fail({ detail: "That QR code is not a Twofold pairing code." });
  } else if (picture) {
    fail({ detail: "No QR code was found in that picture. Try a sharper or closer one." });
  }
}

// -- the state ------------------------------------------------------------------------------

function who(j) {
  return j.peer ? `${j.peer.name} (${j.peer.device})` : "the other device";
}

function devicesLine(vault) {
  if (!vault?.devices?.length) return "";
  if (vault.devices.length === 1) return `, whose only device is ${vault.devices[0]}`;
  return `, whose devices are ${vault.devices.join(", ")}`;
}

function decide(accept) {
  return (event) =>
    busy(event.currentTarget, async () => {
      try {
        joining = await api("POST", accept ? "/join/accept" : "/join/decline");
        render();
        keepFocusIn($("#join-status"));
      } catch (err) {
        if (err.status !== 401) fail(err);
        refreshJoin().catch(() => {});
      }
    });
}

async function stop(event) {
  await busy(event.currentTarget, async () => {
    try {
      joining = await api("DELETE", "/join");
      render();
    } catch (err) {
      if (err.status !== 401) fail(err);
    }
  });
}

function render() {
  const box = $("#join-status");
  if (!joining) {
    box.hidden = true;
    box.replaceChildren();
    rendered = null;
    return;
  }
  const state = joining.state;
  box.hidden = false;
  box.dataset.state = state;
  // Draw only what changed: a redraw on every poll would take focus off the person's button.
  const key = JSON.stringify([state, joining.code, joining.peer, joining.vault, joining.error, ENDED.has(state) ? null : offer?.link ?? null]);
  if (rendered === key) return;
  const was = rendered === null ? null : JSON.parse(rendered)[0];
  rendered = key;
  const focused = box.contains(document.activeElement) ? document.activeElement : null;
  draw(box, state, was);
  if (focused && !box.contains(document.activeElement)) {
    // What had focus was redrawn: focus its like, or the new content.
    const testid = focused.dataset.testid;
    const same = testid && $(`[data-testid="${testid}"]`, box);
    if (!same) box.tabIndex = -1;
    (same || box).focus({ preventScroll: true });
  }
}

function draw(box, state, was) {
  const name = joining.peer?.name ?? "the other device";
  const line = (text, cls = "") => h("p", { class: cls, testid: "join-state", dataset: { state } }, text);
  const stopButton = h("button", { type: "button", class: "btn btn-ghost", testid: "join-stop", onclick: stop }, "Stop");
  switch (state) {
    case "connecting":
      fill(box, line("Connecting to the other device…", "muted"), h("div", { class: "actions" }, stopButton));
      break;
    case "showing":
    case "open":
      fill(box, ...offerView(stopButton));
      break;
    case "confirming": {
      const adding = offer !== null;
      fill(
        box,
        line(
          adding
            ? `${who(joining)} is adding this device to its vault${devicesLine(joining.vault)}.`
            : `Joining the vault of ${who(joining)}${devicesLine(joining.vault)}.`,
        ),
        h("p", {}, `Check that ${name} shows this code:`),
        h("p", { class: "big-code", testid: "join-code", tabindex: "-1" }, groupCode(joining.code ?? "")),
        h(
          "p",
          { class: "muted small" },
          "If the code or the vault is not the one you expect, decline: nothing of this device's is sent until you join. The accounts on this device go along.",
        ),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "btn", testid: "join-decline", onclick: decide(false) }, "Decline"),
          h("button", { type: "button", class: "btn btn-primary", testid: "join-accept", onclick: decide(true) }, "The codes match: join"),
        ),
      );
      if (was !== "confirming") {
        // Once, when it comes: show the code and focus it, not a button: the person must
        // compare it before deciding. Later updates (the vault's devices) leave focus be.
        const code = $('[data-testid="join-code"]', box);
        code.scrollIntoView({ block: "center" });
        code.focus({ preventScroll: true });
      }
      break;
    }
    case "waiting":
      fill(
        box,
        line(`Waiting for ${name}'s person to accept…`, "muted"),
        h("div", { class: "actions" }, stopButton),
      );
      break;
    case "accepted":
    case "syncing":
      fill(box, line("Accepted. Copying the vault…", "muted"));
      break;
    case "joined":
      fill(box, line(`Joined the vault of ${name}: its accounts are on this device now.`, "text-ok"));
      offer = null;
      hooks.onJoined();
      break;
    case "declined":
      fill(
        box,
        line(
          joining.declined_by === "the other device"
            ? `${name} declined: this device did not join, and nothing was sent.`
            : "Declined: nothing was sent.",
        ),
      );
      offer = null;
      break;
    default:
      fill(box, line(joining.error || `Joining ${state}.`, state === "failed" ? "text-danger" : ""));
      offer = null;
  }
}

function offerView(stopButton) {
  const img = h("img", { class: "qr", testid: "join-qr", alt: "QR code of this device's link", width: "220", height: "220" });
  if (offer?.qr_png) img.src = `data:image/png;base64,${offer.qr_png}`;
  return [
    h("p", { testid: "join-state", dataset: { state: "showing" } }, "On a device of the vault, scan this code (or run twofold pair with the link)."),
    h("div", { class: "qr-frame" }, img),
    h("p", { class: "mono small", testid: "join-offer-link" }, offer?.link ?? ""),
    h("div", { class: "actions" }, stopButton),
  ];
}

/** The vault locked: stop following the join and drop what it knew of the other device. */
export function forgetJoin() {
  clearTimeout(pollTimer);
  pollTimer = null;
  joining = null;
  offer = null;
  rendered = null;
  stopCamera();
}

