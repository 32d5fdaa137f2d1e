/**
 * The viewer page (viewer.html#<token>): a coach watches a live session without an
 * account. The token in the link's fragment (never sent to the server in a page request,
 * nor in a Referer) grants the video and the results of one session until it expires or
 * is revoked.
 *
 * Once the session has ended the live part goes away and the final numbers of the report
 * show, with a link to the whole report (read-only, through the same link).
 *
 * Element ids: #viewer-status (its data-state: loading, waiting, live, reconnecting,
 * ended, denied, error), #viewer-retry, #remote-video, #live-error, the live panel's, and
 * #viewer-ended with #ended-total-shots, #ended-rallies, #ended-duration, #ended-note,
 * #ended-report-link.
 */

import { api, byId, showError } from "./api.js";
import { formatClock } from "./format.js";
import { LiveConnection } from "./live-connection.js";
import { LivePanel } from "./live-panel.js";

const POLL_MS = 2000;
// How often the ended page asks whether the report is stored (it is written after the end).
const REPORT_WAIT_MS = 1000;
// How often a link opened before the stream started checks whether it has.
const WAIT_MS = 5000;

const token = location.hash.slice(1);
const video = byId("remote-video");
const statusBox = byId("viewer-status");
const retryButton = byId("viewer-retry");
const errorBox = byId("live-error");

/** @type {LiveConnection|null} */
let connection = null;
/** @type {LivePanel|null} */
let panel = null;
let timer = null;
let ended = false;

function setStatus(state, text, { retry = false } = {}) {
  statusBox.textContent = text;
  statusBox.dataset.state = state;
  retryButton.hidden = !retry;
}

function fetchInfo() {
  return api(`/view/${encodeURIComponent(token)}`, { auth: false });
}

/** Says what went wrong in words a coach can act on. */
function explain(error) {
  if (error.status === 403) {
    setStatus("denied", `This viewer link cannot be used (${error.message}). ` +
      "Ask the player for a new link.", { retry: true });
  } else if (error.status === 409) {
    setStatus("waiting", "The stream is not live right now.", { retry: true });
  } else {
    setStatus("error", `Could not reach the server: ${error.message}`, { retry: true });
  }
}

/** Reads the link, then waits for the stream to start or connects to it. */
async function open() {
  clearTimeout(timer);
  showError(errorBox, "");
  if (!token) {
    setStatus("denied", "This link is incomplete: it should end with # and a long code. " +
      "Ask the player to send it again.");
    return;
  }
  setStatus("loading", "Opening the link…");
  let info;
  try {
    info = await fetchInfo();
  } catch (error) {
    explain(error);
    return;
  }
  const name = info.name || "Live match";
  byId("viewer-title").textContent = name;
  document.title = `${name} · Badminton Analyzer`;
  if (info.status === "ended" && !info.resumable) {
    showEnded();
  } else if (info.status !== "streaming" || !info.live) {
    const waiting = info.resumable
      ? "The server holding the stream stopped. This page connects again when the phone does."
      : "The stream has not started yet. This page connects as soon as it does.";
    setStatus("waiting", waiting, { retry: true });
    timer = setTimeout(open, WAIT_MS);
  } else {
    connect(info);
  }
}

function connect(info) {
  byId("viewer-live").hidden = false;
  if (!panel) panel = new LivePanel(byId("live-panel"), { onError: (m) => showError(errorBox, m) });
  panel.showStatus(info.live);
  if (connection) connection.close();
  connection = new LiveConnection({
    iceServers: info.iceServers || [],
    prepare: (pc) => {
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addEventListener("track", (event) => {
        video.srcObject = event.streams[0] || new MediaStream([event.track]);
        video.play().catch(() => {}); // muted autoplay is allowed; a refusal keeps the frame
      });
    },
    exchange: (offer) =>
      api(`/view/${encodeURIComponent(token)}/offer`, { method: "POST", body: offer, auth: false }),
  });
  connection.addEventListener("state", (event) => {
    const { state, text, reason } = event.detail;
    panel.setConnection(event.detail);
    if (state === "connected") setStatus("live", "Live");
    else if (state === "connecting") setStatus("loading", text);
    // The reason says what to wait for, e.g. a link already open on its most screens.
    else if (state === "reconnecting") {
      setStatus("reconnecting", reason ? `${text}: ${reason}` : text);
    }
  });
  connection.addEventListener("rtt", (event) => panel.showRtt(event.detail));
  connection.addEventListener("message", (event) => {
    panel.handle(event.detail);
    if (event.detail.type === "session_ended") showEnded();
  });
  connection.addEventListener("stopped", (event) => explain(event.detail));
  connection.start();
  clearTimeout(timer);
  timer = setTimeout(poll, POLL_MS);
}

/** The server's live numbers (frame rates, latency), and whether the link still holds. */
async function poll() {
  if (ended || !connection || connection.finished) return;
  try {
    const info = await fetchInfo();
    panel.showStatus(info.live);
    if (info.status === "ended" && !info.resumable) {
      showEnded();
      return;
    }
  } catch (error) {
    if (error.status === 403) {
      // Revoked or expired while watching: the owner no longer wants this link used.
      connection.close();
      explain(error);
      return;
    }
  }
  timer = setTimeout(poll, POLL_MS);
}

/** The ended state: no more live video or live numbers, the report's instead. */
function showEnded() {
  if (ended) return;
  ended = true;
  clearTimeout(timer);
  if (connection) connection.close();
  video.srcObject = null;
  byId("viewer-live").hidden = true;
  showError(errorBox, "");
  setStatus("ended", "The session has ended.");
  byId("viewer-ended").hidden = false;
  showFinal();
}

/** Fills the final numbers from the report once the server has stored it. */
async function showFinal() {
  const note = byId("ended-note");
  const path = `/view/${encodeURIComponent(token)}`;
  try {
    const info = await fetchInfo();
    if (info.status !== "ended") {
      timer = setTimeout(showFinal, REPORT_WAIT_MS);
      return;
    }
    if (!info.report_ready) {
      note.textContent = `There is no report: ${info.error || "nothing was analysed"}.`;
      return;
    }
    const report = await api(`${path}/report`, { auth: false });
    const summary = report.summary || {};
    byId("ended-total-shots").textContent = String(summary.total_shots ?? report.shots.length);
    byId("ended-rallies").textContent = String(summary.rallies ?? report.rallies.length);
    byId("ended-duration").textContent = formatClock((report.video || {}).duration || 0);
    note.textContent =
      "The report has every shot, the rallies and the video where it was recorded.";
    const link = byId("ended-report-link");
    link.href = `/static/report.html#view=${encodeURIComponent(token)}`;
    link.hidden = false;
  } catch (error) {
    if (error.status === 403) {
      byId("viewer-ended").hidden = true;
      explain(error);
      return;
    }
    note.textContent = `Could not load the report: ${error.message}`;
  }
}

retryButton.addEventListener("click", () => {
  if (!ended) open();
});
// A different link pasted into the same tab is another session: start over.
window.addEventListener("hashchange", () => location.reload());
open();
