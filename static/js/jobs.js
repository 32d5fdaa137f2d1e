/** The jobs page: the account's jobs with live status, links to reports, deletion. */

import { api, byId, el, showError } from "./api.js";
import { initAccount } from "./account.js";
import { formatBytes, formatDate } from "./format.js";
import { isActive, pollWhile, statusText } from "./job-status.js";

const POLL_MS = 2000;
const list = byId("job-list");
const errorBox = byId("jobs-error");
/** @type {Map<string, HTMLElement>} rows by job id, updated in place between polls */
const rows = new Map();

function reportUrl(job) {
  return `/static/report.html?job=${encodeURIComponent(job.id)}`;
}

function createRow(job) {
  const row = el(
    "li",
    { class: "job-row card", dataset: { jobId: job.id, testid: "job-row" } },
    el(
      "div",
      { class: "job-head" },
      el("a", { class: "job-name", href: reportUrl(job) }),
      el("span", { class: "job-status badge" }),
    ),
    el("p", { class: "job-meta hint" }),
    el("progress", { class: "job-progress", max: 1, value: 0 }),
    el("p", { class: "job-error error" }),
    el(
      "div",
      { class: "row" },
      el("a", { class: "job-report button", href: reportUrl(job), text: "View report" }),
      el("button", { type: "button", class: "job-delete", text: "Delete" }),
    ),
  );
  row.querySelector(".job-delete").addEventListener("click", () => deleteJob(row));
  return row;
}

function updateRow(row, job) {
  row.dataset.status = job.status;
  row.dataset.filename = job.filename;
  const name = row.querySelector(".job-name");
  name.textContent = job.filename;
  const status = row.querySelector(".job-status");
  status.textContent = statusText(job);
  status.className = `job-status badge status-${job.status}`;
  row.querySelector(".job-meta").textContent =
    `${formatBytes(job.size || 0)} · ${formatDate(job.created_at)}`;
  const bar = row.querySelector(".job-progress");
  bar.hidden = !isActive(job);
  bar.value = job.progress || 0;
  bar.setAttribute("aria-label", `Progress of ${job.filename}`);
  const error = row.querySelector(".job-error");
  error.textContent = job.status === "failed" ? job.error || "The analysis failed." : "";
  error.hidden = job.status !== "failed";
  row.querySelector(".job-report").hidden = job.status !== "done";
  row.querySelector(".job-delete").setAttribute("aria-label", `Delete ${job.filename}`);
}

function render(jobs) {
  const seen = new Set();
  jobs.forEach((job, index) => {
    seen.add(job.id);
    let row = rows.get(job.id);
    if (!row) {
      row = createRow(job);
      rows.set(job.id, row);
    }
    updateRow(row, job);
    // Newest first, as the server lists them; only move rows that are out of place.
    if (list.children[index] !== row) list.insertBefore(row, list.children[index] || null);
  });
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      row.remove();
      rows.delete(id);
    }
  }
  byId("jobs-empty").hidden = jobs.length > 0;
}

async function load() {
  try {
    const { jobs } = await api("/jobs");
    showError(errorBox, "");
    render(jobs);
    return jobs.some(isActive);
  } catch (err) {
    showError(errorBox, `Could not load your jobs: ${err.message}`);
    return rows.size === 0 || [...rows.values()].some((r) => isActive(r.dataset));
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
    await api(`/jobs/${encodeURIComponent(row.dataset.jobId)}`, { method: "DELETE" });
    rows.delete(row.dataset.jobId);
    row.remove();
    byId("jobs-empty").hidden = rows.size > 0;
  } catch (err) {
    showError(errorBox, `Could not delete "${name}": ${err.message}`);
    button.disabled = false;
  }
}

if (initAccount()) pollWhile(load, POLL_MS);
