// The "Add an account" dialog: a link, a QR image, or the fields by hand.
import { api, toBase64 } from "./api.js";
import { $, $$, accountLabel, busy, clearError, dropZone, fill, h, showError } from "./dom.js";
import { toast } from "./toast.js";

let dialog;
let hooks = { onAdded: () => {} };
// The daemon refuses an account the vault holds already (same secret, issuer and name).
const DUPLICATE = "urn:twofold:problem:duplicate-account";

export function initAdd(options) {
  hooks = { ...hooks, ...options };
  dialog = $("#add-dialog");
  for (const tab of $$('[role="tab"]', dialog)) {
    tab.addEventListener("click", () => selectTab(tab.dataset.panel, true));
    tab.addEventListener("keydown", onTabKey);
  }
  for (const button of $$("[data-close]", dialog)) button.addEventListener("click", () => dialog.close());
  $("#add-link-form").addEventListener("submit", submitLink);
  // Enter adds the link; Shift+Enter makes a new line (for a list of links).
  $("#add-uri").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("#add-link-form").requestSubmit();
    }
  });
  $("#add-fields-form").addEventListener("submit", submitFields);
  $("#add-kind").addEventListener("change", syncKind);
  for (const input of $$("input, textarea, select", dialog)) {
    input.addEventListener("input", () => input.removeAttribute("aria-invalid"));
  }

  const file = $("#add-qr-file");
  file.addEventListener("change", () => {
    if (file.files?.[0]) importImage(file.files[0]);
    file.value = "";
  });
  dropZone($("#add-dropzone"), (files) => {
    const image = files.find((f) => f.type.startsWith("image/"));
    if (image) importImage(image);
    else showError($("#add-qr-error"), { detail: "Drop an image file (PNG, JPEG, …)." });
  });
  // Ctrl/Cmd+V anywhere in the dialog: an image is imported; a link fills the link field.
  dialog.addEventListener("paste", onPaste);
}

export function openAdd(panel = "link") {
  reset();
  selectTab(panel, false);
  dialog.showModal();
  focusPanel(panel);
}

function reset() {
  $("#add-link-form").reset();
  $("#add-fields-form").reset();
  $("#add-advanced").open = false;
  for (const id of ["#add-link-error", "#add-fields-error", "#add-qr-error"]) clearError($(id), dialog);
  const report = $("#import-report");
  report.hidden = true;
  report.replaceChildren();
  syncKind();
}

function selectTab(panel, focus) {
  for (const tab of $$('[role="tab"]', dialog)) {
    const on = tab.dataset.panel === panel;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    if (on && focus) tab.focus();
  }
  for (const el of $$('[role="tabpanel"]', dialog)) el.hidden = el.dataset.panel !== panel;
  $("#import-report").hidden = true;
}

function onTabKey(event) {
  const tabs = $$('[role="tab"]', dialog);
  const i = tabs.indexOf(event.currentTarget);
  let next = null;
  if (event.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
  else if (event.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
  else if (event.key === "Home") next = tabs[0];
  else if (event.key === "End") next = tabs[tabs.length - 1];
  if (next) {
    event.preventDefault();
    selectTab(next.dataset.panel, true);
  }
}

function focusPanel(panel) {
  const target = { link: "#add-uri", fields: "#add-issuer", qr: "#add-qr-file" }[panel];
  if (panel === "qr") $('[data-panel="qr"][role="tab"]', dialog).focus();
  else $(target).focus();
}

function syncKind() {
  const kind = $("#add-kind").value;
  $("#add-counter-field").hidden = kind !== "hotp";
  $("#add-period-field").hidden = kind === "hotp";
  $("#add-pin-field").hidden = !(kind === "motp" || kind === "yandex");
}

async function submitLink(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("#add-link-error");
  clearError(error, form);
  const text = $("#add-uri").value.trim();
  if (!text) {
    showError(error, { detail: "Paste an otpauth:// link first.", field: "uri" }, form);
    return;
  }
  const button = event.submitter ?? $('[type="submit"]', form);
  await busy(button, async () => {
    try {
      const lines = text.split(/\s+/).filter(Boolean);
      if (lines.length === 1 && !/^otpauth-migration:/i.test(text)) {
        await addAccount({ uri: text }, error, form);
      } else {
        // A Google Authenticator export, or several links: the importer reports each.
        showReport(await api("POST", "/import", { text }));
      }
    } catch (err) {
      if (err.status !== 401) showError(error, err.field === "text" ? { ...err, field: "uri" } : err, form);
    }
  });
}

async function submitFields(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("#add-fields-error");
  clearError(error, form);
  const value = (name) => form.elements[name].value.trim();
  const kind = value("kind");
  const body = { issuer: value("issuer"), name: value("name"), secret: value("secret"), kind };
  if (!body.secret) {
    showError(error, { detail: "Enter the secret key the site shows.", field: "secret" }, form);
    return;
  }
  if (value("algorithm")) body.algorithm = value("algorithm");
  for (const name of ["digits", "period", "counter"]) {
    const field = form.elements[name];
    if (field.closest("[hidden]") || value(name) === "") continue;
    const n = Number(value(name));
    if (!Number.isInteger(n)) {
      showError(error, { detail: `${field.labels[0].textContent} must be a whole number.`, field: name }, form);
      return;
    }
    body[name] = n;
  }
  if ((kind === "motp" || kind === "yandex") && value("pin")) body.pin = value("pin");
  if (value("note")) body.note = form.elements.note.value;
  const button = event.submitter ?? $('[type="submit"]', form);
  await busy(button, () => addAccount(body, error, form));
}

/** POST /accounts; an account the vault holds already is said plainly, with a way to add
 * a second copy anyway. Other errors are shown as they come. */
async function addAccount(body, error, form) {
  try {
    added(await api("POST", "/accounts", body));
  } catch (err) {
    if (err.status === 401) return;
    if (err.type !== DUPLICATE) {
      showError(error, err.field === "text" ? { ...err, field: "uri" } : err, form);
      return;
    }
    showError(error, err);
    const again = h(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        testid: "add-anyway",
        onclick: () =>
          busy(again, async () => {
            clearError(error);
            try {
              added(await api("POST", "/accounts", { ...body, allow_duplicate: true }));
            } catch (err2) {
              if (err2.status !== 401) showError(error, err2, form);
            }
          }),
      },
      "Add a second copy",
    );
    error.append(" ", again);
  }
}

function added(account) {
  dialog.close();
  toast(`Added ${accountLabel(account.issuer, account.name)}`, { kind: "success" });
  hooks.onAdded([account.id]);
}

function onPaste(event) {
  const data = event.clipboardData;
  if (!data) return;
  const image = [...data.files].find((f) => f.type.startsWith("image/"));
  if (image) {
    event.preventDefault();
    selectTab("qr", false);
    importImage(image);
    return;
  }
  const text = data.getData("text/plain").trim();
  const inField = event.target.closest?.("input, textarea");
  if (!inField && /^(otpauth|otpauth-migration|motp):/i.test(text)) {
    event.preventDefault();
    selectTab("link", false);
    $("#add-uri").value = text;
    $("#add-uri").focus();
  }
}

async function importImage(file) {
  const error = $("#add-qr-error");
  clearError(error);
  const zone = $("#add-dropzone");
  zone.classList.add("working");
  zone.setAttribute("aria-busy", "true");
  try {
    if (file.size > 16 * 1024 * 1024) throw { detail: "That image is larger than 16 MiB." };
    const content = await toBase64(file);
    showReport(await api("POST", "/import", { content }));
  } catch (err) {
    if (err.status !== 401) showError(error, err);
  } finally {
    zone.classList.remove("working");
    zone.removeAttribute("aria-busy");
  }
}

function entryLabel(entry) {
  return accountLabel(entry.issuer, entry.name);
}

/**
 * Draw an import report (POST /import's answer) into `el`: a summary, then each entry
 * added, skipped (already there) or failed, and the warnings. `skipped` names that group.
 */
export function renderReport(el, report, { skipped: skippedTitle = "Skipped" } = {}) {
  const { added: ok, skipped, failed, warnings } = report;
  const summary = [
    `${ok.length} added`,
    skipped.length ? `${skipped.length} ${skippedTitle.toLowerCase()}` : null,
    failed.length ? `${failed.length} failed` : null,
  ]
    .filter(Boolean)
    .join(", ");
  const section = (title, kind, items, render) =>
    items.length
      ? h(
          "section",
          { class: `report-group report-${kind}`, testid: `import-${kind}` },
          h("h3", {}, title),
          h("ul", {}, items.map(render)),
        )
      : null;
  fill(
    el,
    h("h3", { class: "report-title", testid: "import-summary" }, summary),
    section("Added", "added", ok, (e) => h("li", { testid: "import-entry" }, entryLabel(e))),
    section(skippedTitle, "skipped", skipped, (e) =>
      h("li", { testid: "import-entry" }, h("strong", {}, entryLabel(e)), h("span", { class: "reason" }, e.reason)),
    ),
    section("Failed", "failed", failed, (e) =>
      h("li", { testid: "import-entry" }, h("strong", {}, e.entry), h("span", { class: "reason" }, e.reason)),
    ),
    warnings.length
      ? h("ul", { class: "report-warnings" }, warnings.map((w) => h("li", {}, w)))
      : null,
  );
}

function showReport(report) {
  const el = $("#import-report");
  renderReport(el, report);
  el.append(
    h(
      "div",
      { class: "dialog-actions" },
      h(
        "button",
        { type: "button", class: "btn", testid: "import-again", onclick: () => openAddAgain() },
        "Add more",
      ),
      h(
        "button",
        { type: "button", class: "btn btn-primary", testid: "import-done", onclick: () => dialog.close() },
        "Done",
      ),
    ),
  );
  for (const panel of $$('[role="tabpanel"]', dialog)) panel.hidden = true;
  el.hidden = false;
  $('[data-testid="import-done"]', el).focus();
  const ok = report.added;
  if (ok.length) hooks.onAdded(ok.map((e) => e.id).filter(Boolean));
}

function openAddAgain() {
  const current = $('[role="tab"][aria-selected="true"]', dialog)?.dataset.panel ?? "link";
  reset();
  selectTab(current, false);
  focusPanel(current);
}
