// Editing an account, moving it to the trash and back, and the Trash view.
import { api } from "./api.js";
import { $, $$, accountLabel, avatar, busy, clearError, coalesce, h, icon, showError, shown, timeEl } from "./dom.js";
import { toast } from "./toast.js";

const KIND_NAMES = { totp: "TOTP", hotp: "HOTP", steam: "Steam Guard", motp: "mOTP", yandex: "Yandex.Key" };
const FIELD_NAMES = { issuer: "issuer", name: "name", note: "note", otp: "code settings" };

let dialog;
let editing = null; // the Account being edited
let hooks = { onChanged: () => {}, onRestored: () => {} };

export function initAccounts(options) {
  hooks = { ...hooks, ...options };
  dialog = $("#edit-dialog");
  for (const button of $$("[data-close]", dialog)) button.addEventListener("click", () => dialog.close());
  $("#edit-form").addEventListener("submit", save);
  $("#edit-delete").addEventListener("click", () => {
    const account = editing;
    dialog.close();
    if (account) moveToTrash(account);
  });
  for (const input of $$("input, textarea", dialog)) {
    input.addEventListener("input", () => input.removeAttribute("aria-invalid"));
  }
}

/** Locked or signed out: let go of the account the edit dialog held. */
export function forgetEdit() {
  editing = null;
  $("#edit-form")?.reset();
  $("#edit-summary")?.replaceChildren();
  $("#edit-conflicts")?.replaceChildren();
}

export function describe(account) {
  const parts = [KIND_NAMES[account.kind] ?? account.kind];
  if (account.kind !== "steam") parts.push(account.algorithm, `${account.digits} digits`);
  if (account.kind === "hotp") parts.push(`counter ${account.counter}`);
  else parts.push(`${account.period} s`);
  if (account.has_pin) parts.push("PIN");
  return parts.join(" · ");
}

export async function openEdit(id) {
  let account;
  try {
    account = await api("GET", `/accounts/${id}`);
  } catch (err) {
    if (err.status !== 401) toast(err.detail, { kind: "error" });
    return;
  }
  editing = account;
  const form = $("#edit-form");
  clearError($("#edit-error"), form);
  // What the fields show is what a save writes: a hidden character of older data shows as
  // its escape, and a field left as it was is not sent (see save).
  form.elements.issuer.value = shown(account.issuer);
  form.elements.name.value = shown(account.name);
  form.elements.note.value = shown(account.note);
  $("#edit-counter-field").hidden = account.kind !== "hotp";
  form.elements.counter.value = String(account.counter);
  form.elements.counter.min = String(account.counter);
  $("#edit-summary").textContent = describe(account);
  const conflicts = $("#edit-conflicts");
  conflicts.hidden = account.conflicts.length === 0;
  conflicts.replaceChildren(
    `Edited on two devices at once: ${account.conflicts.map((f) => FIELD_NAMES[f] ?? f).join(", ")}. `,
    h("a", { href: "#conflicts", onclick: () => dialog.close() }, "Choose a value"),
    ". Saving here replaces both values.",
  );
  dialog.showModal();
  form.elements.issuer.focus();
}

async function save(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("#edit-error");
  clearError(error, form);
  const account = editing;
  if (!account) return;
  const patch = {};
  for (const field of ["issuer", "name", "note"]) {
    const value = field === "note" ? form.elements[field].value : form.elements[field].value.trim();
    if (value !== shown(account[field])) patch[field] = value;
  }
  if (account.kind === "hotp") {
    const counter = Number(form.elements.counter.value);
    if (!Number.isInteger(counter)) {
      showError(error, { detail: "The counter must be a whole number.", field: "counter" }, form);
      return;
    }
    if (counter !== account.counter) patch.counter = counter;
  }
  if (Object.keys(patch).length === 0) {
    dialog.close();
    return;
  }
  await busy(event.submitter ?? $('[type="submit"]', form), async () => {
    try {
      const updated = await api("PATCH", `/accounts/${account.id}`, patch);
      dialog.close();
      toast(`Saved ${accountLabel(updated.issuer, updated.name)}`, { kind: "success" });
      hooks.onChanged([updated.id]);
    } catch (err) {
      if (err.status !== 401) showError(error, err, form);
    }
  });
}

export async function moveToTrash(account) {
  try {
    await api("DELETE", `/accounts/${account.id}`);
  } catch (err) {
    if (err.status !== 401) toast(err.detail, { kind: "error" });
    return;
  }
  hooks.onChanged([account.id]);
  toast(`Moved ${accountLabel(account.issuer, account.name)} to the trash`, {
    action: "Undo",
    onAction: () => restore(account.id),
  });
}

export async function restore(id) {
  try {
    const account = await api("POST", `/accounts/${id}/restore`);
    toast(`Restored ${accountLabel(account.issuer, account.name)}`, { kind: "success" });
    hooks.onRestored(account.id);
  } catch (err) {
    if (err.status !== 401) toast(err.detail, { kind: "error" });
  }
}

// The Trash view.

export const refreshTrash = coalesce(async () => {
  const { accounts } = await api("GET", "/trash");
  renderTrash(accounts);
});

function renderTrash(accounts) {
  const list = $("#trash-list");
  list.replaceChildren(
    ...accounts.map((account) => {
      const label = accountLabel(account.issuer, account.name);
      const button = h(
        "button",
        { type: "button", class: "btn btn-small", testid: "restore-button", "aria-label": `Restore ${label}` },
        icon("restore", "icon icon-sm"),
        h("span", {}, "Restore"),
      );
      button.addEventListener("click", () => busy(button, () => restore(account.id)));
      return h(
        "li",
        { class: "row", testid: "trash-row", dataset: { accountId: account.id } },
        avatar(account.issuer, account.name),
        h(
          "div",
          { class: "row-main" },
          h("div", { class: "row-title" }, account.issuer || account.name || "Unnamed account"),
          h(
            "div",
            { class: "row-sub muted small" },
            account.issuer && account.name ? `${account.name} · ` : "",
            "deleted ",
            timeEl(account.updated_at),
          ),
        ),
        button,
      );
    }),
  );
  $("#trash-empty").hidden = accounts.length > 0;
  const count = $('[data-testid="trash-count"]');
  count.textContent = String(accounts.length);
  count.hidden = accounts.length === 0;
}
