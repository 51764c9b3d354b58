// The daemon's local API (specs/openapi.yaml), over the session cookie.
// Every change (POST, PATCH, DELETE) carries the session's CSRF token.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `The daemon answered ${status}.`);
    this.status = status;
    this.detail = this.message;
    this.field = problem?.field ?? null;
    this.type = problem?.type ?? null;
  }
}

let csrfToken = null;
let onUnauthorized = () => {};

export function setCsrf(token) {
  csrfToken = token;
}

/** Called once whenever the API answers 401: the session is over. */
export function whenSignedOut(callback) {
  onUnauthorized = callback;
}

/** Call the API; resolves to the parsed JSON body, or rejects with an ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-Twofold-CSRF"] = csrfToken;
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
