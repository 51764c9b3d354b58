// The page a printed sign-in link opens: /login#ticket=... on the daemon's port.
// The ticket rides in the fragment, which no request carries. Take it out of the address
// bar (and so out of the history), then POST it in a form body, as the redirect file that
// `twofold open` writes does. The daemon answers with the session cookie.

function signIn() {
  const ticket = new URLSearchParams(window.location.hash.slice(1)).get("ticket");
  window.history.replaceState(null, "", "/login");
  const form = document.getElementById("sign-in");
  if (ticket) {
    form.elements.namedItem("ticket").value = ticket;
    form.submit();
    return;
  }
  document.querySelector('[data-testid="sign-in-title"]').textContent =
    "This sign-in link cannot be used";
  document.querySelector('[data-testid="sign-in-note"]').hidden = false;
}

// A link pasted while this page is open changes only the fragment: no new load.
window.addEventListener("hashchange", signIn);
signIn();
