/**
 * The report page of a match, uploaded or live (report-source.js reads which from the
 * address): follows it until its report is ready, then shows its summary, shot chart, court
 * diagram, heatmaps, rallies and the video with seekable shots; an upload's owner may also
 * analyse it again with corrected court corners. Opened through a viewer link it is
 * read-only and needs no account.
 */

import { ApiError, byId, el, showError } from "./api.js";
import { initAccount } from "./account.js";
import { CourtFix } from "./court-fix.js";
import { formatClock, formatPercent, shotLabel } from "./format.js";
import { pollWhile } from "./job-status.js";
import { drawCourt, drawShotChart } from "./report-charts.js";
import { sourceFromLocation } from "./report-source.js";
import { RecordingPlayer } from "./report-video.js";

const POLL_MS = 2000;
// Seeking a little before the hit shows the swing, not just the follow-through.
const SEEK_LEAD_S = 0.5;
const PLAYER_NAMES = { near: "Near", far: "Far" };

const source = sourceFromLocation();
const video = byId("report-video");
const player = new RecordingPlayer(video, byId("recording-picker"));
const errorBox = byId("report-error");
const courtFix = source && source.kind === "upload"
  ? new CourtFix(new URLSearchParams(location.search).get("job"), followAgain)
  : null;
/** @type {Array<object>} the report's shots, in table order */
let shots = [];

/** @param {object} state a report source's state() */
function showState(state) {
  document.title = `${state.title} · Badminton Analyzer`;
  byId("report-title").textContent = state.title;
  byId("job-state").hidden = state.ready;
  const status = byId("job-status");
  status.textContent = state.statusText;
  status.className = `badge status-${state.status}`;
  byId("job-status-note").textContent = state.note;
  const bar = byId("job-progress");
  bar.hidden = state.progress == null;
  bar.value = state.progress || 0;
  showError(byId("job-error"), state.error);
}

function seekToShot(index) {
  const shot = shots[index];
  if (!shot || !player.seek(shot.time, SEEK_LEAD_S)) return;
  video.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function markCurrentShot() {
  if (player.time == null) return;
  const now = player.time + SEEK_LEAD_S;
  let current = -1;
  shots.forEach((shot, i) => {
    if (shot.time <= now) current = i;
  });
  document.querySelectorAll("#shot-table tbody tr").forEach((row, i) => {
    row.classList.toggle("current", i === current);
  });
}

function fillShots(list) {
  shots = list;
  const rows = list.map((shot, index) => {
    const when = formatClock(shot.time, 1);
    const recorded = player.recordingAt(shot.time) >= 0;
    const row = el(
      "tr",
      { class: "shot-row", dataset: { time: shot.time, index, player: shot.player, recorded } },
      el(
        "td",
        {},
        recorded
          ? el("button", {
            type: "button",
            class: "seek link",
            text: when,
            "aria-label": `Play the ${shotLabel(shot.type).toLowerCase()} at ${when}`,
          })
          : el("span", { text: when, title: "Not recorded" }),
      ),
      el("td", { text: PLAYER_NAMES[shot.player] || shot.player }),
      el("td", { text: shotLabel(shot.type) }),
      el("td", { text: formatPercent(shot.confidence) }),
    );
    row.addEventListener("click", () => seekToShot(index));
    return row;
  });
  const body = byId("shot-table").tBodies[0];
  body.replaceChildren(...rows);
  if (!rows.length) body.append(el("tr", {}, el("td", { colSpan: 4, text: "No shots found." })));
}

function fillRallies(rallies, fps) {
  const seconds = (frame) => frame / (fps || 30);
  const rows = rallies.map((rally, i) => {
    const start = rally.start_time ?? seconds(rally.start_frame);
    const end = rally.end_time ?? seconds(rally.end_frame);
    return el(
      "tr",
      { class: "rally-row" },
      el("td", { text: String(rally.rally_id ?? i + 1) }),
      el("td", { text: formatClock(start, 1) }),
      el("td", { text: formatClock(end, 1) }),
      el("td", { text: String(rally.shots) }),
      el("td", { text: `${(end - start).toFixed(1)} s` }),
    );
  });
  const body = byId("rally-table").tBodies[0];
  body.replaceChildren(...rows);
  if (!rows.length) body.append(el("tr", {}, el("td", { colSpan: 5, text: "No rallies found." })));
}

function fillSummary(report) {
  const summary = report.summary || {};
  const players = report.players || {};
  const distance = (side) =>
    players[side] && players[side].distance_m != null
      ? `${players[side].distance_m.toFixed(1)} m`
      : "–";
  byId("summary-total-shots").textContent = String(summary.total_shots ?? report.shots.length);
  byId("summary-rallies").textContent = String(summary.rallies ?? report.rallies.length);
  byId("summary-duration").textContent = formatClock((report.video || {}).duration || 0);
  byId("summary-distance-near").textContent = distance("near");
  byId("summary-distance-far").textContent = distance("far");
}

function countTypes(list) {
  const counts = {};
  for (const shot of list) counts[shot.type] = (counts[shot.type] || 0) + 1;
  return counts;
}

/** The video part: the recordings, and a word when shots have nothing to play. */
function showVideo(recordings) {
  player.setRecordings(recordings);
  byId("shots-hint").textContent = player.hint;
}

function showReport(state, report, outputs) {
  const shotList = [...(report.shots || [])].sort((a, b) => a.time - b.time);
  showVideo(outputs.recordings || []);
  fillSummary(report);
  fillShots(shotList);
  fillRallies(report.rallies || [], (report.video || {}).fps);
  const distribution = (report.summary || {}).shot_distribution || countTypes(shotList);
  drawShotChart(byId("shot-chart"), distribution);
  drawCourt(byId("court-diagram"), shotList, seekToShot);
  for (const side of ["near", "far"]) {
    const image = byId(`heatmap-${side}`);
    const url = outputs[`heatmap_${side}`];
    image.closest("figure").hidden = !url;
    if (url) image.src = url;
  }
  byId("video-original-line").hidden = !outputs.video_download;
  if (outputs.video_download) byId("video-original").href = outputs.video_download;
  const json = byId("report-json");
  json.hidden = !outputs.report;
  if (outputs.report) json.href = outputs.report;
  byId("court-fix").hidden = !courtFix;
  if (courtFix) courtFix.show(state.job, outputs.video);
  byId("report").hidden = false;
}

/** Back to following the job, which the server has queued again with a corrected court. */
function followAgain() {
  player.pause();
  byId("report").hidden = true;
  showError(errorBox, "");
  byId("job-state").scrollIntoView({ block: "start", behavior: "smooth" });
  pollWhile(load, POLL_MS);
}

/** One poll: show the match's state; once its report is ready, show it and stop polling. */
async function load() {
  let state;
  try {
    state = await source.state();
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 403)) {
      showError(errorBox, err.status === 404
        ? source.missing
        : `This link cannot be used (${err.message}). Ask for a new one.`);
      return false;
    }
    showError(errorBox, `Could not load the match: ${err.message}`);
    return true;
  }
  showError(errorBox, "");
  showState(state);
  if (!state.ready) {
    byId("report").hidden = true;
    return state.active;
  }
  try {
    const { report, outputs } = await source.results();
    showReport(state, report, outputs);
  } catch (err) {
    showError(errorBox, `Could not load the report: ${err.message}`);
  }
  return false;
}

/** A viewer link's reader has no account here: nothing of the owner's pages is offered. */
function readOnly() {
  for (const node of document.querySelectorAll(".topbar nav, #sign-out, .owner-only")) {
    node.hidden = true;
  }
}

video.addEventListener("timeupdate", markCurrentShot);
if (!source) {
  showError(errorBox, "No match given. Open a report from the list of your matches.");
} else if (source.readOnly) {
  readOnly();
  pollWhile(load, POLL_MS);
} else if (initAccount()) {
  pollWhile(load, POLL_MS);
}
