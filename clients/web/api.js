// The daemon's local API (specs/openapi.yaml), over the session cookie.
// Every change (POST, PATCH, DELETE) carries the session's CSRF token.
// A request made while the person has not touched the page for a minute (the codes' own
// refresh, a refetch after an event) says so (X-Twofold-Background: 1): it does not keep a
// vault with a passphrase from locking itself after its idle time.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `The daemon answered ${status}.`);
    this.status = status;
    this.detail = this.message;
    this.field = problem?.field ?? null;
    this.type = problem?.type ?? null;
    this.retryAfter = problem?.retry_after ?? null;
  }
}

export const LOCKED = "urn:twofold:problem:locked";
const IDLE_MS = 60_000;
// Routes that do not read the vault: they answer while it is locked.
const LOCK_FREE = new Set(["/unlock", "/lock", "/session", "/sessions"]);

let csrfToken = null;
let onUnauthorized = () => {};
let onLocked = () => {};
let lockEpoch = 0; // one more each time the page locks or unlocks
let lastInput = Date.now(); // opening the page is the person's doing too

for (const type of ["pointerdown", "keydown"]) {
  document.addEventListener(type, () => (lastInput = Date.now()), { capture: true, passive: true });
}

export function setCsrf(token) {
  csrfToken = token;
}

/** Called once whenever the API answers 401: the session is over. */
export function whenSignedOut(callback) {
  onUnauthorized = callback;
}

/** Called whenever the API answers 423 locked: the vault is shut until its passphrase opens it. */
export function whenLocked(callback) {
  onLocked = callback;
}

/** The page locked or unlocked: answers to requests sent before are dropped (they reject). */
export function lockChanged() {
  lockEpoch += 1;
}

/** Call the API; resolves to the parsed JSON body, or rejects with an ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-Twofold-CSRF"] = csrfToken;
  if (Date.now() - lastInput > IDLE_MS) headers["X-Twofold-Background"] = "1";
  const epoch = lockEpoch;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      redirect: "error",
    });
  } catch {
    throw new ApiError(0, {
      detail: "The Twofold daemon did not answer. Is it still running?",
    });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (response.status === 401) {
    onUnauthorized();
    throw new ApiError(401, data ?? { detail: "Signed out." });
  }
  // The vault locked (or unlocked) while this was on its way: what it says is out of date,
  // and must not put codes back on a locked page.
  if (epoch !== lockEpoch && !LOCK_FREE.has(path)) {
    throw new ApiError(423, { type: LOCKED, detail: "The vault was locked." });
  }
  if (response.status === 423 && data?.type === LOCKED) {
    onLocked();
    throw new ApiError(423, data);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** The bytes of a File or Blob as standard base64. */
export async function toBase64(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}
