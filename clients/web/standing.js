// Where this device stands in its vault: a banner over every view when it was removed,
// when the vault closed, or when a device's log forked; and the way out (a new vault).
import { api } from "./api.js";
import { $, formatDate, h } from "./dom.js";
import { toast } from "./toast.js";

let onMoved = () => {};

export function initStanding({ onNewVault }) {
  onMoved = onNewVault;
}

/** Fetch GET /status and show where this device stands; resolves to the status. */
export async function refreshStanding() {
  const status = await api("GET", "/status");
  if (status.standing) show(status.standing); // a locked vault's status says nothing of it
  return status;
}

function show(standing) {
  const banner = $("#standing-banner");
  const parts = [];
  let way = null;
  if (standing.state === "removed") {
    const by = standing.removed_by;
    parts.push(
      h("strong", {}, "This device was removed from the vault"),
      by ? ` by ${by.name} (${by.id})` : "",
      standing.removed_at ? ` on ${formatDate(standing.removed_at)}` : "",
      ". ",
      standing.closed ? "Every device of the vault was removed, so the vault is closed. " : "",
      "What you change here counts nowhere else; your accounts stay readable. ",
    );
    way = newVaultButton();
  } else if (standing.closed) {
    parts.push(h("strong", {}, "The vault is closed: "), "every device in it was removed. ");
    way = newVaultButton();
  } else if (standing.forked.length) {
    parts.push(
      h("strong", {}, `The log of ${standing.forked.join(", ")} forked`),
      " (a copied home run twice, or tampering): its changes to the devices no longer count. ",
      "Revoke it under Devices.",
    );
  }
  banner.replaceChildren(h("span", {}, ...parts), ...(way ? [way] : []));
  banner.hidden = parts.length === 0;
}

function newVaultButton() {
  const button = h(
    "button",
    { type: "button", class: "btn btn-small", testid: "new-vault-button" },
    "Start a new vault with these accounts",
  );
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const made = await api("POST", "/vault/new");
      toast(`A new vault holds your ${made.accounts} accounts. Pair your other devices into it.`, {
        kind: "success",
      });
      onMoved();
    } catch (err) {
      if (err.status !== 401) toast(err.detail, { kind: "error" });
      button.disabled = false;
    }
  });
  return button;
}
