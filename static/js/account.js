/** The signed-in header shared by the app's pages: who is signed in, and signing out. */

import { api, byId, requireSignIn, signOut } from "./api.js";

/**
 * Requires a token (else goes to sign-in), wires #sign-out and fills #user-email in the
 * background; a revoked token is caught there too, since the API call redirects on 401.
 * @returns {boolean} whether the page may go on (a token is stored)
 */
export function initAccount() {
  if (!requireSignIn()) return false;
  byId("sign-out").addEventListener("click", () => signOut());
  api("/auth/me").then(
    (user) => (byId("user-email").textContent = user.email),
    () => {}, // Without the email the header still works; a 401 has already redirected.
  );
  return true;
}
