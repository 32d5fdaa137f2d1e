/** The sign-in page: sign in or create an account, keep the token, go on to the app. */

import { api, byId, getToken, setToken, showError } from "./api.js";

const DEFAULT_NEXT = "/static/jobs.html";
const form = byId("auth-form");
const errorBox = byId("auth-error");
let registering = false;

/** Only same-site paths are followed, so a crafted link cannot send the token's owner away. */
function nextPage() {
  const next = new URLSearchParams(location.search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : DEFAULT_NEXT;
}

function setMode(register) {
  registering = register;
  byId("auth-title").textContent = register ? "Create an account" : "Sign in";
  byId("sign-in").hidden = register;
  byId("register").hidden = !register;
  byId("show-register").hidden = register;
  byId("show-sign-in").hidden = !register;
  const password = byId("password");
  password.autocomplete = register ? "new-password" : "current-password";
  // The server wants 8 characters for new passwords; old ones are checked by the server only.
  if (register) password.minLength = 8;
  else password.removeAttribute("minlength");
  byId("password-hint").hidden = !register;
  showError(errorBox, "");
}

async function submit(event) {
  event.preventDefault();
  showError(errorBox, "");
  const body = { email: byId("email").value.trim(), password: byId("password").value };
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  try {
    const path = registering ? "/auth/register" : "/auth/login";
    const result = await api(path, { method: "POST", body, auth: false });
    setToken(result.token);
    location.assign(nextPage());
  } catch (err) {
    showError(errorBox, err);
    // The server's reason replaces the hint rather than repeating it.
    if (registering && /password/i.test(err.message)) byId("password-hint").hidden = true;
    buttons.forEach((b) => (b.disabled = false));
  }
}

form.addEventListener("submit", submit);
byId("show-register").addEventListener("click", () => setMode(true));
byId("show-sign-in").addEventListener("click", () => setMode(false));
setMode(location.hash === "#register");
if (getToken()) byId("signed-in-note").hidden = false;
