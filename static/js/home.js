/** The home page: where to go next, depending on whether this device is signed in. */

import { api, byId, getToken, signOut } from "./api.js";

const signedIn = Boolean(getToken());
byId("signed-in").hidden = !signedIn;
byId("signed-out").hidden = signedIn;
byId("sign-out").hidden = !signedIn;
byId("sign-out").addEventListener("click", () => signOut());

if (signedIn) {
  api("/auth/me").then(
    (user) => (byId("user-email").textContent = user.email),
    () => {}, // A stale token sends the browser to sign-in from inside api().
  );
}

api("/health", { auth: false }).then(
  (body) => (byId("status").textContent = `Server status: ${body.status}`),
  () => (byId("status").textContent = "Server unreachable"),
);
