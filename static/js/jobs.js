/**
 * The matches page: every match of the account, uploaded or streamed live, newest first,
 * with its status, a link to its report, and deletion of uploads.
 *
 * Rows (li.job-row) carry data-kind (upload, live), data-status and data-match-id.
 */

import { api, byId, el, showError } from "./api.js";
import { initAccount } from "./account.js";
import { formatBytes, formatDate } from "./format.js";
import { isActive, pollWhile, statusText } from "./job-status.js";

const POLL_MS = 2000;
const LIVE_LABELS = { setup: "Not started", streaming: "Live now", ended: "Ended" };
const list = byId("job-list");
const errorBox = byId("jobs-error");
/** @type {Map<string, HTMLElement>} rows by kind and id, updated in place between polls */
const rows = new Map();

const rowKey = (match) => `${match.kind}:${match.id}`;

function reportUrl(match) {
  const param = match.kind === "live" ? "live" : "job";
  return `/static/report.html?${param}=${encodeURIComponent(match.id)}`;
}

/** Where the name leads: the report, or back to the capture page while a session runs. */
function openUrl(match) {
  if (match.kind === "live" && match.status !== "ended") {
    return `/static/capture.html?session=${encodeURIComponent(match.id)}`;
  }
  return reportUrl(match);
}

function isMoving(match) {
  return match.kind === "live" ? match.status === "streaming" : isActive(match);
}

function matchStatus(match) {
  if (match.kind === "upload") return statusText(match);
  if (match.status === "ended" && !match.report_ready) return "Ended, no report";
  return LIVE_LABELS[match.status] || match.status;
}

function matchMeta(match) {
  const when = formatDate(match.created_at);
  if (match.kind === "upload") return `Upload · ${formatBytes(match.size || 0)} · ${when}`;
  const parts = ["Live", when];
  if (match.status !== "setup") parts.push(`${match.total_shots ?? 0} shots`);
  if (match.recordings === 1) parts.push("recorded");
  else if (match.recordings > 1) parts.push(`${match.recordings} recordings`);
  return parts.join(" · ");
}

function createRow(match) {
  const row = el(
    "li",
    {
      class: "job-row card",
      dataset: { matchId: match.id, kind: match.kind, testid: "job-row" },
    },
    el(
      "div",
      { class: "job-head" },
      el("a", { class: "job-name" }),
      el("span", { class: "job-status badge" }),
    ),
    el("p", { class: "job-meta hint" }),
    el("progress", { class: "job-progress", max: 1, value: 0 }),
    el("p", { class: "job-error error" }),
    el(
      "div",
      { class: "row" },
      el("a", { class: "job-report button", href: reportUrl(match), text: "View report" }),
      match.kind === "upload"
        ? el("button", { type: "button", class: "job-delete", text: "Delete" })
        : null,
    ),
  );
  const remove = row.querySelector(".job-delete");
  if (remove) remove.addEventListener("click", () => deleteJob(row));
  return row;
}

function updateRow(row, match) {
  row.dataset.status = match.status;
  row.dataset.filename = match.name;
  const name = row.querySelector(".job-name");
  name.textContent = match.name || (match.kind === "live" ? "Live session" : "Upload");
  name.href = openUrl(match);
  const status = row.querySelector(".job-status");
  status.textContent = matchStatus(match);
  status.className = `job-status badge status-${match.status}`;
  row.querySelector(".job-meta").textContent = matchMeta(match);
  const bar = row.querySelector(".job-progress");
  bar.hidden = match.kind !== "upload" || !isActive(match);
  bar.value = match.progress || 0;
  bar.setAttribute("aria-label", `Progress of ${match.name}`);
  const error = row.querySelector(".job-error");
  const failed = match.kind === "upload" ? match.status === "failed" : Boolean(match.error);
  error.textContent = failed ? match.error || "The analysis failed." : "";
  error.hidden = !failed;
  row.querySelector(".job-report").hidden = !match.report_ready;
  const remove = row.querySelector(".job-delete");
  if (remove) remove.setAttribute("aria-label", `Delete ${match.name}`);
}

function render(matches) {
  const seen = new Set();
  matches.forEach((match, index) => {
    const key = rowKey(match);
    seen.add(key);
    let row = rows.get(key);
    if (!row) {
      row = createRow(match);
      rows.set(key, row);
    }
    updateRow(row, match);
    // Newest first, as the server lists them; only move rows that are out of place.
    if (list.children[index] !== row) list.insertBefore(row, list.children[index] || null);
  });
  for (const [key, row] of rows) {
    if (!seen.has(key)) {
      row.remove();
      rows.delete(key);
    }
  }
  byId("jobs-empty").hidden = matches.length > 0;
}

async function load() {
  try {
    const { matches } = await api("/matches");
    showError(errorBox, "");
    render(matches);
    return matches.some(isMoving);
  } catch (err) {
    showError(errorBox, `Could not load your matches: ${err.message}`);
    return rows.size === 0 || [...rows.values()].some((r) => isMoving(r.dataset));
  } finally {
    byId("jobs-loading").hidden = true;
  }
}

async function deleteJob(row) {
  const name = row.dataset.filename;
  if (!window.confirm(`Delete "${name}" and its results?`)) return;
  const button = row.querySelector(".job-delete");
  button.disabled = true;
  try {
    await api(`/jobs/${encodeURIComponent(row.dataset.matchId)}`, { method: "DELETE" });
    rows.delete(`upload:${row.dataset.matchId}`);
    row.remove();
    byId("jobs-empty").hidden = rows.size > 0;
  } catch (err) {
    showError(errorBox, `Could not delete "${name}": ${err.message}`);
    button.disabled = false;
  }
}

if (initAccount()) pollWhile(load, POLL_MS);
