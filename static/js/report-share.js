/**
 * The report page's sharing and export, for the owner of an upload (report.html?job=<id>) or
 * of a live session (report.html?live=<id>): the shot list as a CSV file, and read-only share
 * links to the report, made, copied and revoked here.
 *
 * Element ids: #download-shots, #make-share, #share-list, #share-error.
 */

import { API_PREFIX, ApiError, api, byId, el, getToken, showError } from "./api.js";
import { formatDate } from "./format.js";

/** The API path of the owner's match the address names, or null (e.g. a viewer link). */
function matchPath() {
  if (new URLSearchParams(location.hash.slice(1)).get("view")) return null;
  const params = new URLSearchParams(location.search);
  if (params.get("job")) return `/jobs/${encodeURIComponent(params.get("job"))}`;
  if (params.get("live")) return `/stream/${encodeURIComponent(params.get("live"))}`;
  return null;
}

const path = matchPath();
const errorBox = byId("share-error");
const list = byId("share-list");

/**
 * The name a Content-Disposition header asks the file to be saved as (its UTF-8 form first).
 * @param {string|null} header
 * @param {string} fallback
 */
function savedFileName(header, fallback) {
  const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(header || "");
  if (utf8) {
    try {
      return decodeURIComponent(utf8[1]);
    } catch {
      // A malformed escape: the plain form below.
    }
  }
  const plain = /filename="([^"]*)"/i.exec(header || "");
  return plain ? plain[1] : fallback;
}

/** @param {{id: string, url: string, expires_at: string}} share */
function shareItem(share) {
  const input = el("input", {
    type: "url",
    class: "share-url",
    value: share.url,
    readOnly: true,
    "aria-label": "Share link",
  });
  const copy = el("button", { type: "button", class: "share-copy", text: "Copy" });
  const revoke = el("button", { type: "button", class: "share-revoke danger", text: "Revoke" });
  const item = el(
    "li",
    { class: "share-item", dataset: { id: share.id } },
    input,
    el("div", { class: "row" }, copy, revoke, el("span", { class: "hint", text: `Works until ${formatDate(share.expires_at)}` })),
  );
  input.addEventListener("focus", () => input.select());
  copy.addEventListener("click", () => copyLink(input, copy));
  revoke.addEventListener("click", () => revokeShare(share, item, revoke));
  return item;
}

async function copyLink(input, button) {
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    button.textContent = "Copied";
  } catch {
    // No clipboard (a plain-http page): the link stays selected for the user to copy.
    button.textContent = "Selected: copy it";
  }
}

async function revokeShare(share, item, button) {
  button.disabled = true;
  showError(errorBox, "");
  try {
    await api(`${path}/shares/${encodeURIComponent(share.id)}`, { method: "DELETE" });
    item.remove();
  } catch (err) {
    showError(errorBox, `Could not revoke the link: ${err.message}`);
    button.disabled = false;
  }
}

async function makeShare() {
  const button = byId("make-share");
  button.disabled = true;
  showError(errorBox, "");
  try {
    const share = await api(`${path}/shares`, { method: "POST", body: {} });
    const item = shareItem(share);
    list.prepend(item);
    item.querySelector("input").focus();
  } catch (err) {
    showError(errorBox, `Could not make a share link: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

async function listShares() {
  try {
    const { shares } = await api(`${path}/shares`);
    list.replaceChildren(...shares.map(shareItem));
  } catch (err) {
    // The report page itself says when the match is missing.
    if (!(err instanceof ApiError && err.status === 404)) showError(errorBox, err);
  }
}

/** Fetches the CSV with the account's token and hands it to the browser as a download. */
async function downloadShots() {
  const button = byId("download-shots");
  button.disabled = true;
  showError(errorBox, "");
  try {
    const response = await fetch(`${API_PREFIX}${path}/shots.csv`, {
      headers: { Authorization: `Bearer ${getToken()}` },
    });
    if (!response.ok) {
      const payload = await response.json().catch(() => null);
      throw new Error((payload && payload.error) || `${response.status} ${response.statusText}`);
    }
    const name = savedFileName(response.headers.get("Content-Disposition"), "shots.csv");
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (err) {
    showError(errorBox, `Could not download the shots: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

if (path && getToken()) {
  byId("make-share").addEventListener("click", makeShare);
  byId("download-shots").addEventListener("click", downloadShots);
  listShares();
}
