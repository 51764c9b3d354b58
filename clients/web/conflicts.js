// The Conflicts view: values written concurrently on two devices, side by side.
import { api } from "./api.js";
import { $, accountLabel, avatar, busy, coalesce, formatDate, h, icon, timeEl } from "./dom.js";
import { toast } from "./toast.js";

const FIELD_NAMES = { issuer: "Issuer", name: "Account name", note: "Note", otp: "Code settings" };
const KIND_NAMES = { totp: "TOTP", hotp: "HOTP", steam: "Steam Guard", motp: "mOTP", yandex: "Yandex.Key" };

let hooks = { onResolved: () => {}, onCount: () => {} };

export function initConflicts(options) {
  hooks = { ...hooks, ...options };
}

export const refreshConflicts = coalesce(async () => {
  const { conflicts } = await api("GET", "/conflicts");
  let names = new Map();
  if (conflicts.length) {
    try {
      const { devices } = await api("GET", "/devices");
      names = new Map(devices.map((d) => [d.id, d.this_device ? `${d.name} (this device)` : d.name]));
    } catch (err) {
      if (err.status === 401) throw err;
    }
  }
  render(conflicts, names);
  hooks.onCount(conflicts.length);
});

function render(conflicts, names) {
  const list = $("#conflict-list");
  list.replaceChildren(...conflicts.map((c) => card(c, names)));
  $("#conflicts-empty").hidden = conflicts.length > 0;
}

function card(conflict, names) {
  const label = accountLabel(conflict.issuer, conflict.name);
  const fieldName = FIELD_NAMES[conflict.field] ?? conflict.field;
  return h(
    "article",
    {
      class: "card conflict",
      testid: "conflict",
      dataset: { accountId: conflict.account_id, field: conflict.field },
      "aria-label": `${fieldName} of ${label}`,
    },
    h(
      "header",
      { class: "conflict-head" },
      avatar(conflict.issuer, conflict.name),
      h(
        "div",
        {},
        h("h2", { class: "card-title" }, label),
        h("p", { class: "muted small" }, `${fieldName}: ${conflict.values.length} values`),
      ),
    ),
    h(
      "div",
      { class: "choices" },
      conflict.values.map((value, i) => choice(conflict, value, i, names)),
    ),
  );
}

function choice(conflict, value, index, names) {
  const device = names.get(value.device) ?? value.device;
  const keep = h(
    "button",
    { type: "button", class: "btn btn-small", testid: "keep-button" },
    icon("check", "icon icon-sm"),
    h("span", {}, "Keep this"),
  );
  keep.addEventListener("click", () =>
    busy(keep, async () => {
      try {
        const account = await api("POST", `/accounts/${conflict.account_id}/conflicts/${conflict.field}`, {
          choice: value.choice,
        });
        toast(`Kept that value for ${accountLabel(account.issuer, account.name)}`, { kind: "success" });
        hooks.onResolved([account.id]);
      } catch (err) {
        if (err.status !== 401) toast(err.detail, { kind: "error" });
      }
    }),
  );
  return h(
    "section",
    { class: "choice", testid: "conflict-value", dataset: { choice: value.choice } },
    h(
      "div",
      { class: "choice-top" },
      h("div", { class: "choice-value", testid: "conflict-value-text" }, formatValue(conflict.field, value.value)),
      index === 0 ? h("span", { class: "badge badge-quiet", title: "The value every device shows until you choose" }, "Shown now") : null,
    ),
    h(
      "p",
      { class: "choice-meta muted small" },
      h("span", { testid: "conflict-device", title: value.device }, device),
      " · ",
      timeEl(value.written_at, formatDate(value.written_at)),
    ),
    keep,
  );
}

function formatValue(field, value) {
  if (field === "otp" && value && typeof value === "object") {
    const parts = [KIND_NAMES[value.kind] ?? value.kind];
    if (value.algorithm) parts.push(value.algorithm);
    if (value.digits) parts.push(`${value.digits} digits`);
    if (value.kind !== "hotp" && value.period) parts.push(`${value.period} s`);
    if (value.has_pin) parts.push("PIN");
    return h(
      "span",
      {},
      parts.join(" · "),
      value.secret_fingerprint
        ? h("span", { class: "muted small block" }, "key ", h("code", {}, value.secret_fingerprint))
        : null,
    );
  }
  if (typeof value === "string") {
    return value === "" ? h("em", { class: "muted" }, "(empty)") : h("span", { class: "pre" }, value);
  }
  return h("code", { class: "pre" }, JSON.stringify(value, null, 1));
}
