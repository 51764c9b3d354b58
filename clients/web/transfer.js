// The Backup view: files in and out. Another app's export in, an export out, and a sealed
// backup out and back in, as `twofold import`, `export`, `backup` and `restore` do.
//
// Secrets (passwords, the passphrase, a recovery key, an export's content) live only in
// the handler that uses them and in the fields the person types them into: the fields are
// emptied once sent, and nothing is kept at module level. A file waiting for its password
// is held by the password form's own handler, and goes when that form goes.
import { renderReport } from "./add.js";
import { api, toBase64 } from "./api.js";
import { confirmDialog } from "./confirm.js";
import { $, accountLabel, busy, clearError, dropZone, fill, h, icon, showError } from "./dom.js";
import { toast } from "./toast.js";

const NEEDS_PASSWORD = "urn:twofold:problem:password-required";
const WRONG_PASSWORD = "urn:twofold:problem:wrong-password";
const BAD_RECOVERY_KEY = "urn:twofold:problem:bad-recovery-key";
const BACKUP_FORMAT = "twofold-backup";
const BACKUP_MIN_CHARS = 10; // the daemon refuses a shorter passphrase (protocol/backup.py)
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const SVG_NS = "http://www.w3.org/2000/svg";
const EXPORT_WARNING =
  "This shows every secret in plain text: anyone who sees it can make your codes.";
const KEY_WORDS =
  "Write it down and keep it apart from the file. It is shown only now, and nothing else opens the backup.";

let hooks = { onImported: () => {} };

export function initTransfer(options) {
  hooks = { ...hooks, ...options };
  const file = $("#import-file");
  file.addEventListener("change", () => {
    const chosen = file.files?.[0];
    file.value = "";
    if (chosen) importFile(chosen);
  });
  dropZone($("#import-dropzone"), (files) => {
    if (files[0]) importFile(files[0]);
  });

  $("#export-form").addEventListener("submit", submitExport);

  const backup = $("#backup-form");
  backup.addEventListener("submit", submitBackup);
  for (const radio of backup.elements.seal) radio.addEventListener("change", syncSeal);
  for (const id of ["#backup-passphrase", "#backup-again"]) {
    $(id).addEventListener("input", () => {
      $(id).removeAttribute("aria-invalid");
      checkPassphrase(false);
    });
  }

  const restore = $("#restore-form");
  restore.addEventListener("submit", submitRestore);
  $("#restore-file").addEventListener("change", () => {
    const chosen = $("#restore-file").files?.[0];
    $("#restore-file-name").textContent = chosen ? chosen.name : "No file chosen";
    clearError($("#restore-error"), restore);
  });
  $("#restore-secret").addEventListener("input", () => $("#restore-secret").removeAttribute("aria-invalid"));
  syncSeal();
}

/** Nothing to fetch: the view is forms. Resolves at once, as refreshView expects. */
export async function refreshTransfer() {}

/** Sign-out: empty every field and take every report, key and password form off the page. */
export function forgetTransfer() {
  for (const id of ["#export-form", "#backup-form", "#restore-form"]) $(id)?.reset();
  const drawn = ["#import-password", "#import-file-report", "#export-result", "#backup-result", "#restore-report"];
  for (const id of drawn) {
    const el = $(id);
    if (el) {
      el.replaceChildren();
      el.hidden = true;
    }
  }
}

function today() {
  return new Date().toISOString().slice(0, 10);
}

/** Hand `blob` to the browser as a download named `name`, then let go of it. */
function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

function bytesOf(base64) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sentence(text) {
  const s = String(text ?? "").trim();
  return s ? `${s[0].toUpperCase()}${s.slice(1)}${/[.!?]$/.test(s) ? "" : "."}` : s;
}

function showReportIn(el, report, options) {
  renderReport(el, report, options);
  el.hidden = false;
  el.focus();
  if (report.added.length) hooks.onImported(report.added.map((e) => e.id).filter(Boolean));
}

// Import from another app

function importFile(file) {
  const error = $("#import-error");
  clearError(error);
  const report = $("#import-file-report");
  report.hidden = true;
  report.replaceChildren();
  closePassword();
  if (file.size > MAX_FILE_BYTES) {
    showError(error, { detail: `${file.name} is larger than 16 MiB: that is not an export file.` });
    return;
  }
  const zone = $("#import-dropzone");
  zone.classList.add("working");
  zone.setAttribute("aria-busy", "true");
  sendImport(file, undefined)
    .then((answer) => {
      if (answer.report) showReportIn(report, answer.report);
      else if (answer.needsPassword) askPassword(file, answer.detail);
      else if (answer.error) showError(error, answer.error);
    })
    .finally(() => {
      zone.classList.remove("working");
      zone.removeAttribute("aria-busy");
    });
}

/** POST /import with the file's bytes; {report} | {needsPassword, detail} | {wrong} | {error}. */
async function sendImport(file, password, format) {
  try {
    const body = { content: await toBase64(file) };
    if (format) body.format = format;
    if (password !== undefined) body.password = password;
    return { report: await api("POST", "/import", body) };
  } catch (err) {
    if (err.status === 401) return {};
    if (err.type === NEEDS_PASSWORD) return { needsPassword: true, detail: err.detail };
    if (err.type === WRONG_PASSWORD || err.type === BAD_RECOVERY_KEY) return { wrong: true, error: err };
    return { error: err };
  }
}

function closePassword() {
  const holder = $("#import-password");
  holder.replaceChildren();
  holder.hidden = true;
}

/** The file is encrypted: ask for its password in place, and keep the file until it opens. */
function askPassword(file, detail) {
  const holder = $("#import-password");
  const input = h("input", {
    type: "password",
    id: "import-password-input",
    name: "password",
    testid: "import-password-input",
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "import-password-hint",
  });
  const error = h("p", { class: "form-error", testid: "import-password-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "btn btn-primary", testid: "import-password-submit" }, "Import");
  const form = h(
    "form",
    { class: "transfer-password", testid: "import-password-form", novalidate: true },
    h(
      "div",
      { class: "inline-form transfer-row" },
      h(
        "div",
        { class: "field grow" },
        h("label", { for: "import-password-input" }, `Password of ${file.name}`),
        input,
      ),
      submit,
      h(
        "button",
        { type: "button", class: "btn btn-ghost", testid: "import-password-cancel", onclick: closePassword },
        "Cancel",
      ),
    ),
    h("p", { class: "hint", id: "import-password-hint" }, sentence(detail) || "The file is encrypted."),
    error,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearError(error, form);
    if (!input.value) {
      showError(error, { detail: `Type the password ${file.name} was saved with.`, field: "password" }, form);
      return;
    }
    busy(submit, async () => {
      const answer = await sendImport(file, input.value);
      input.value = "";
      if (answer.report) {
        closePassword();
        showReportIn($("#import-file-report"), answer.report);
      } else if (answer.wrong && answer.error.type === WRONG_PASSWORD) {
        const detail = `That password does not open ${file.name}. Check it and try again.`;
        showError(error, { detail, field: "password" }, form);
      } else if (answer.error) {
        showError(error, { detail: sentence(answer.error.detail), field: "password" }, form);
      }
    });
  });
  fill(holder, form);
  holder.hidden = false;
  input.focus();
}

// Export

async function submitExport(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("#export-error");
  const result = $("#export-result");
  clearError(error);
  result.hidden = true;
  result.replaceChildren();
  const format = form.elements.format.value;
  const asQr = format === "qr";
  const ok = await confirmDialog({
    title: "Export every secret?",
    body: [
      EXPORT_WARNING,
      asQr
        ? "Show the codes only where no one else can see or photograph the screen."
        : "Save the file only where you mean to, and delete it once the other app has it.",
    ],
    confirm: "Export",
  });
  if (!ok) return;
  const button = event.submitter ?? $('[type="submit"]', form);
  await busy(button, async () => {
    let answer;
    try {
      answer = await api("POST", "/export", asQr ? { format: "otpauth", qr: true } : { format });
    } catch (err) {
      if (err.status !== 401) showError(error, err);
      return;
    }
    if (asQr) {
      const { qr_svg: codes, labels } = answer;
      answer = null;
      showCodes(result, codes, labels, button);
      return;
    }
    const name = `twofold-export-${today()}.${format === "aegis" ? "json" : "txt"}`;
    const type = format === "aegis" ? "application/json" : "text/plain";
    download(new Blob([answer.content], { type }), name);
    const { accounts, left_out: leftOut } = answer;
    answer = null;
    fill(
      result,
      h(
        "p",
        { class: "transfer-done", testid: "export-done" },
        `Wrote ${accounts} account${accounts === 1 ? "" : "s"} to ${name}. ` +
          "It holds every secret in plain text: delete it once the other app has read it.",
      ),
      leftOut.length
        ? h(
            "section",
            { class: "report-group report-skipped", testid: "export-left-out" },
            h("h3", {}, "Left out"),
            h(
              "ul",
              {},
              leftOut.map((left) =>
                h(
                  "li",
                  { testid: "export-left-out-entry" },
                  h("strong", {}, accountLabel(left.issuer, left.name)),
                  h("span", { class: "reason" }, `${sentence(left.reason)} Export it as otpauth:// links.`),
                ),
              ),
            ),
          )
        : null,
    );
    result.hidden = false;
    result.focus();
  });
}

/** An SVG element made from the daemon's QR markup (segno's, from a URI), or null. Only
 * the parsed <svg> element is imported, without scripts or event attributes. */
function qrSvg(markup, label) {
  const doc = new DOMParser().parseFromString(markup, "image/svg+xml");
  const root = doc.documentElement;
  if (doc.querySelector("parsererror") || root.namespaceURI !== SVG_NS || root.localName !== "svg") return null;
  for (const bad of root.querySelectorAll("script, foreignObject")) bad.remove();
  for (const el of [root, ...root.querySelectorAll("*")]) {
    for (const attr of [...el.attributes]) if (/^on/i.test(attr.name)) el.removeAttribute(attr.name);
  }
  const svg = document.importNode(root, true);
  const width = parseFloat(svg.getAttribute("width"));
  const height = parseFloat(svg.getAttribute("height"));
  if (!svg.hasAttribute("viewBox") && width > 0 && height > 0) svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `QR code of ${label}`);
  return svg;
}

/** The export's QR codes, one at a time, until Done takes them all off the page. The codes
 * live only in this viewer's handlers, and go when it goes. */
function showCodes(result, codes, labels, exportButton) {
  const total = codes.length;
  if (!total) {
    fill(result, h("p", { class: "transfer-done", testid: "export-done" }, "No accounts to export."));
    result.hidden = false;
    result.focus();
    return;
  }
  let at = 0;
  const title = h("h3", { class: "export-qr-label", testid: "export-qr-label" });
  const frame = h("div", { class: "export-qr-code", testid: "export-qr-code" });
  const position = h("p", { class: "export-qr-position", testid: "export-qr-position", "aria-live": "polite" });
  const previous = h("button", { type: "button", class: "btn", testid: "export-qr-previous" }, "Previous");
  const next = h("button", { type: "button", class: "btn", testid: "export-qr-next" }, "Next");
  const done = h("button", { type: "button", class: "btn btn-primary", testid: "export-qr-done" }, "Done");
  const show = () => {
    const label = labels[at] ?? `Account ${at + 1}`;
    title.textContent = label;
    const svg = qrSvg(codes[at], label);
    frame.replaceChildren(svg ?? h("p", { class: "form-error" }, "This code could not be shown."));
    position.textContent = `${at + 1} of ${total}`;
    previous.disabled = at === 0;
    next.disabled = at === total - 1;
  };
  const move = (step) => {
    at = Math.min(total - 1, Math.max(0, at + step));
    show();
    (step < 0 ? (previous.disabled ? next : previous) : next.disabled ? previous : next).focus();
  };
  previous.addEventListener("click", () => move(-1));
  next.addEventListener("click", () => move(1));
  done.addEventListener("click", () => {
    codes.length = 0;
    labels.length = 0;
    result.replaceChildren();
    result.hidden = true;
    exportButton.focus();
  });
  fill(
    result,
    h(
      "section",
      { class: "export-qr", testid: "export-qr", "aria-label": "QR codes to scan" },
      h("p", { class: "muted small" }, "Scan each code with the phone app, then go to the next. Done takes them off the page."),
      title,
      frame,
      position,
      h("div", { class: "export-qr-actions" }, previous, next, done),
    ),
  );
  show();
  result.hidden = false;
  result.focus();
}

// Make a backup

function sealWith() {
  return $("#backup-form").elements.seal.value;
}

function syncSeal() {
  const key = sealWith() === "recovery-key";
  $("#backup-passphrase-fields").hidden = key;
  $("#backup-check").hidden = key;
  $("#backup-key-hint").hidden = !key;
  clearError($("#backup-error"), $("#backup-form"));
}

/** What is wrong with the passphrase as typed, or null; shown under the fields as typed. */
function checkPassphrase(submitting) {
  const first = $("#backup-passphrase").value;
  const again = $("#backup-again").value;
  const check = $("#backup-check");
  let problem = null;
  let field = null;
  if ([...first].length < BACKUP_MIN_CHARS) {
    const more = BACKUP_MIN_CHARS - [...first].length;
    problem = first
      ? `Too short: ${more} more character${more === 1 ? "" : "s"} (at least ${BACKUP_MIN_CHARS}).`
      : `At least ${BACKUP_MIN_CHARS} characters.`;
    field = "passphrase";
  } else if (again !== first) {
    field = "again";
    if (submitting) problem = "The two passphrases are not the same: type it again.";
    else if (!again) problem = "Long enough. Now type it again.";
    else if (first.startsWith(again)) problem = "Keep typing it again…";
    else problem = "The two passphrases are not the same.";
  }
  check.textContent = problem ?? "Long enough, and the two match.";
  check.dataset.state = problem ? "problem" : "ok";
  return problem ? { detail: problem, field } : null;
}

async function submitBackup(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("#backup-error");
  const result = $("#backup-result");
  clearError(error, form);
  const body = {};
  if (sealWith() === "recovery-key") {
    body.recovery_key = true;
  } else {
    const problem = checkPassphrase(true);
    if (problem) {
      showError(error, problem, form);
      return;
    }
    body.passphrase = form.elements.passphrase.value;
  }
  const button = event.submitter ?? $('[type="submit"]', form);
  await busy(button, async () => {
    let made;
    try {
      made = await api("POST", "/backup", body);
    } catch (err) {
      if (err.status !== 401) showError(error, err, form);
      return;
    } finally {
      delete body.passphrase;
    }
    form.elements.passphrase.value = "";
    form.elements.again.value = "";
    checkPassphrase(false);
    const name = `twofold-${today()}.tfbackup`;
    download(new Blob([bytesOf(made.content)], { type: "application/octet-stream" }), name);
    const done = h(
      "p",
      { class: "transfer-done", testid: "backup-done" },
      `Wrote a backup of ${made.accounts} account${made.accounts === 1 ? "" : "s"} to ${name}. ` +
        "Restore it on any device from this tab, or with twofold restore.",
    );
    fill(result, done, made.recovery_key ? keyBox(made.recovery_key, result) : null);
    made = null;
    result.hidden = false;
    ($('[data-testid="recovery-key-box"]', result) ?? result).focus();
  });
}

/** The recovery key, shown once, until the person says they have it. */
function keyBox(key, result) {
  const box = h(
    "section",
    {
      class: "key-box",
      testid: "recovery-key-box",
      tabindex: "-1",
      role: "region",
      "aria-labelledby": "recovery-key-title",
    },
    h("h3", { id: "recovery-key-title" }, "Your recovery key"),
    h("p", { class: "key-value", testid: "recovery-key" }, key),
    h("p", { class: "key-words" }, KEY_WORDS),
    h(
      "div",
      { class: "key-actions" },
      h(
        "button",
        {
          type: "button",
          class: "btn",
          testid: "recovery-key-copy",
          onclick: () =>
            navigator.clipboard.writeText($('[data-testid="recovery-key"]', box).textContent).then(
              () => toast("Recovery key copied", { kind: "success" }),
              () => toast("Could not copy: select the key and copy it by hand.", { kind: "error" }),
            ),
        },
        icon("copy", "icon icon-sm"),
        "Copy",
      ),
      h(
        "button",
        {
          type: "button",
          class: "btn btn-primary",
          testid: "recovery-key-done",
          onclick: () => {
            box.remove();
            result.focus();
          },
        },
        "I have written it down",
      ),
    ),
  );
  return box;
}

// Restore a backup

async function submitRestore(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("#restore-error");
  const report = $("#restore-report");
  clearError(error, form);
  const file = $("#restore-file").files?.[0];
  const secret = $("#restore-secret");
  if (!file) {
    showError(error, { detail: "Choose the backup file (.tfbackup) first." });
    $("#restore-file-button").focus();
    return;
  }
  if (!secret.value.trim()) {
    showError(error, { detail: "Type the backup's passphrase or recovery key.", field: "password" }, form);
    return;
  }
  if (file.size > MAX_FILE_BYTES) {
    showError(error, { detail: `${file.name} is larger than 16 MiB: that is not a Twofold backup.` });
    return;
  }
  report.hidden = true;
  report.replaceChildren();
  const button = event.submitter ?? $('[type="submit"]', form);
  await busy(button, async () => {
    const answer = await sendImport(file, secret.value, BACKUP_FORMAT);
    secret.value = "";
    if (answer.report) {
      form.reset();
      $("#restore-file-name").textContent = "No file chosen";
      showReportIn(report, answer.report, { skipped: "Already there" });
    } else if (answer.wrong && answer.error.type === WRONG_PASSWORD) {
      const detail = `That passphrase or recovery key does not open ${file.name}. Check it and try again.`;
      showError(error, { detail, field: "password" }, form);
    } else if (answer.error) {
      showError(error, { detail: sentence(answer.error.detail), field: "password" }, form);
    } else if (answer.needsPassword) {
      showError(error, { detail: "Type the backup's passphrase or recovery key.", field: "password" }, form);
    }
  });
}
