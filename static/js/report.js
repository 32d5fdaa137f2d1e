/**
 * The report page of a match, uploaded or live (report-source.js reads which from the
 * address): follows it until its report is ready, then shows its summary, shot chart, court
 * diagram, heatmaps, rallies and the video with seekable shots; an upload's owner may also
 * analyse it again with corrected court corners. Opened through a viewer link it is
 * read-only and needs no account.
 */

import { ApiError, byId, showError } from "./api.js";
import { initAccount } from "./account.js";
import { CourtFix } from "./court-fix.js";
import { pollWhile } from "./job-status.js";
import { drawCourt, drawShotChart } from "./report-charts.js";
import { sourceFromLocation } from "./report-source.js";
import { countTypes, fillRallyTable, fillShotTable, fillSummary } from "./report-tables.js";
import { RecordingPlayer } from "./report-video.js";

const POLL_MS = 2000;
// Seeking a little before the hit shows the swing, not just the follow-through.
const SEEK_LEAD_S = 0.5;

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

/** The video part: the recordings, and a word when shots have nothing to play. */
function showVideo(recordings) {
  player.setRecordings(recordings);
  byId("shots-hint").textContent = player.hint;
}

function showReport(state, report, outputs) {
  const shotList = [...(report.shots || [])].sort((a, b) => a.time - b.time);
  showVideo(outputs.recordings || []);
  fillSummary(report);
  shots = shotList;
  fillShotTable(shots, player, seekToShot);
  fillRallyTable(report.rallies || [], (report.video || {}).fps);
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
  if (courtFix) courtFix.show(state.job, outputs.video);
  byId("report").hidden = false;
}

/** Back to following the job, which the server has queued again with a corrected court. */
function followAgain() {
  player.pause();
  byId("report").hidden = true;
  byId("court-fix").hidden = true;
  showError(errorBox, "");
  byId("job-state").scrollIntoView({ block: "start", behavior: "smooth" });
  pollWhile(load, POLL_MS);
}

/** A failed analysis (no court found, say) can be run again with corners marked here. */
async function offerCourtFix(job) {
  try {
    const outputs = await source.outputs();
    courtFix.show(job, outputs.video);
    // No court at all: the corners are what is missing, so the video opens at once.
    if (!job.court && outputs.video) courtFix.box.open = true;
  } catch {
    // The video is gone (it never arrived, or was not one): nothing to mark corners on.
  }
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
    if (courtFix && state.status === "failed") await offerCourtFix(state.job);
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
