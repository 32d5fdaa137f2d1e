/**
 * The report page (report.html?job=<id>): follows the job until it is done, then shows its
 * summary, shot chart, court diagram, heatmaps, rallies and the video with seekable shots,
 * and offers to analyse it again with corrected court corners.
 */

import { ApiError, api, byId, el, showError } from "./api.js";
import { initAccount } from "./account.js";
import { CourtFix } from "./court-fix.js";
import { formatClock, formatPercent, shotLabel } from "./format.js";
import { isActive, pollWhile, statusText } from "./job-status.js";
import { drawCourt, drawShotChart } from "./report-charts.js";

const POLL_MS = 2000;
// Seeking a little before the hit shows the swing, not just the follow-through.
const SEEK_LEAD_S = 0.5;
const PLAYER_NAMES = { near: "Near", far: "Far" };

const jobId = new URLSearchParams(location.search).get("job");
const video = byId("report-video");
const errorBox = byId("report-error");
const courtFix = new CourtFix(jobId, followAgain);
/** @type {Array<object>} the report's shots, in table order */
let shots = [];

function showJob(job) {
  document.title = `${job.filename} · Badminton Analyzer`;
  byId("report-title").textContent = job.filename;
  byId("job-state").hidden = job.status === "done";
  const status = byId("job-status");
  status.textContent = statusText(job);
  status.className = `badge status-${job.status}`;
  const notes = {
    uploading: "The video has not finished uploading.",
    queued: "Waiting for a free analyser…",
    running: "The video is being analysed.",
  };
  byId("job-status-note").textContent = notes[job.status] || "";
  const bar = byId("job-progress");
  bar.hidden = !isActive(job);
  bar.value = job.progress || 0;
  showError(byId("job-error"), job.status === "failed" ? job.error || "The analysis failed." : "");
}

function seekToShot(index) {
  const shot = shots[index];
  if (!shot || !video.src) return;
  video.currentTime = Math.max(0, shot.time - SEEK_LEAD_S);
  video.play().catch(() => {}); // Playback may be refused; the seek still shows the frame.
  video.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function markCurrentShot() {
  const now = video.currentTime + SEEK_LEAD_S;
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
    const row = el(
      "tr",
      { class: "shot-row", dataset: { time: shot.time, index, player: shot.player } },
      el(
        "td",
        {},
        el("button", {
          type: "button",
          class: "seek link",
          text: when,
          "aria-label": `Play the ${shotLabel(shot.type).toLowerCase()} at ${when}`,
        }),
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

function showReport(job, report, outputs) {
  const shotList = [...(report.shots || [])].sort((a, b) => a.time - b.time);
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
  // Videos browsers cannot play (MPEG-4 Part 2, HEVC) come with an H.264 copy to watch.
  const watch = outputs.playable_video || outputs.video;
  video.hidden = !watch;
  if (watch) video.src = watch;
  byId("video-original-line").hidden = !outputs.video_download;
  if (outputs.video_download) byId("video-original").href = outputs.video_download;
  const json = byId("report-json");
  json.hidden = !outputs.report;
  if (outputs.report) json.href = outputs.report;
  courtFix.show(job, outputs.video);
  byId("report").hidden = false;
}

/** Back to following the job, which the server has queued again with a corrected court. */
function followAgain(job) {
  video.pause();
  byId("report").hidden = true;
  showError(errorBox, "");
  showJob(job);
  byId("job-state").scrollIntoView({ block: "start", behavior: "smooth" });
  pollWhile(load, POLL_MS);
}

/** One poll: show the job; once done, fetch and show the report and stop polling. */
async function load() {
  let job;
  try {
    job = await api(`/jobs/${encodeURIComponent(jobId)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      showError(errorBox, "This job does not exist or belongs to another account.");
      return false;
    }
    showError(errorBox, `Could not load the job: ${err.message}`);
    return true;
  }
  showError(errorBox, "");
  showJob(job);
  if (job.status !== "done") {
    byId("report").hidden = true;
    return isActive(job);
  }
  try {
    const [report, outputs] = await Promise.all([
      api(`/jobs/${encodeURIComponent(jobId)}/report`),
      api(`/jobs/${encodeURIComponent(jobId)}/outputs`),
    ]);
    showReport(job, report, outputs);
  } catch (err) {
    showError(errorBox, `Could not load the report: ${err.message}`);
  }
  return false;
}

video.addEventListener("timeupdate", markCurrentShot);
if (initAccount()) {
  if (jobId) pollWhile(load, POLL_MS);
  else showError(errorBox, "No job given. Open a report from the jobs page.");
}
