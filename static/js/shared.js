/**
 * The page a share link opens (shared.html#<token>): one finished report, of an upload or a
 * live session, read-only and without an account: summary, video with seekable shots (a live
 * session's recordings placed in its time, as on the report page), rallies, shot chart, court
 * diagram, heatmaps and the shots as CSV. The token stays in the #fragment, which the
 * browser never sends; the API gets it in a query string, which the server does not log.
 */

import { api, byId, el, showError } from "./api.js";
import { formatClock, formatDate, formatPercent, shotLabel } from "./format.js";
import { drawCourt, drawShotChart } from "./report-charts.js";
import { RecordingPlayer } from "./report-video.js";

// Seeking a little before the hit shows the swing, not just the follow-through.
const SEEK_LEAD_S = 0.5;
const PLAYER_NAMES = { near: "Near", far: "Far" };

const token = decodeURIComponent(location.hash.slice(1));
const video = byId("report-video");
const player = new RecordingPlayer(video, byId("recording-picker"));
/** @type {Array<object>} the report's shots, in time order */
let shots = [];

function seekToShot(index) {
  const shot = shots[index];
  if (!shot || !player.seek(shot.time, SEEK_LEAD_S)) return;
  video.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function fillSummary(report) {
  const summary = report.summary || {};
  const players = report.players || {};
  const distance = (side) =>
    players[side] && players[side].distance_m != null
      ? `${players[side].distance_m.toFixed(1)} m`
      : "–";
  byId("summary-total-shots").textContent = String(summary.total_shots ?? shots.length);
  byId("summary-rallies").textContent = String(summary.rallies ?? (report.rallies || []).length);
  byId("summary-duration").textContent = formatClock((report.video || {}).duration || 0);
  byId("summary-distance-near").textContent = distance("near");
  byId("summary-distance-far").textContent = distance("far");
}

function fillShots() {
  const rows = shots.map((shot, index) => {
    const when = formatClock(shot.time, 1);
    const recorded = player.recordingAt(shot.time) >= 0;
    const row = el(
      "tr",
      { class: "shot-row", dataset: { time: shot.time, index, player: shot.player, recorded } },
      el("td", {}, recorded
        ? el("button", {
          type: "button",
          class: "seek link",
          text: when,
          "aria-label": `Play the ${shotLabel(shot.type).toLowerCase()} at ${when}`,
        })
        : el("span", { text: when, title: "Not recorded" })),
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

function countTypes(list) {
  const counts = {};
  for (const shot of list) counts[shot.type] = (counts[shot.type] || 0) + 1;
  return counts;
}

/**
 * The match's recordings, each placed in its time: a live session's as the server lists them,
 * an upload's one video from the start.
 */
function recordingsOf(outputs) {
  if (outputs.recordings) return outputs.recordings;
  // Videos browsers cannot play (MPEG-4 Part 2, HEVC) come with an H.264 copy to watch.
  const watch = outputs.playable_video || outputs.video;
  return watch ? [{ url: watch, offset_s: 0, duration_s: null }] : [];
}

function showVideo(recordings) {
  player.setRecordings(recordings);
  byId("shots-hint").textContent = player.hint;
}

function showShared({ title, expires_at: expiresAt, report, outputs }) {
  document.title = `${title} · Badminton Analyzer`;
  byId("report-title").textContent = title;
  const note = byId("shared-note");
  note.textContent = `Shared with you, read-only. This link works until ${formatDate(expiresAt)}.`;
  note.hidden = false;
  shots = [...(report.shots || [])].sort((a, b) => a.time - b.time);
  showVideo(recordingsOf(outputs));
  fillSummary(report);
  fillShots();
  fillRallies(report.rallies || [], (report.video || {}).fps);
  drawShotChart(byId("shot-chart"), (report.summary || {}).shot_distribution || countTypes(shots));
  drawCourt(byId("court-diagram"), shots, seekToShot);
  for (const side of ["near", "far"]) {
    const image = byId(`heatmap-${side}`);
    const url = outputs[`heatmap_${side}`];
    image.closest("figure").hidden = !url;
    if (url) image.src = url;
  }
  byId("shared-csv").href = `/api/v1/shared/shots.csv?token=${encodeURIComponent(token)}`;
  byId("report").hidden = false;
}

async function load() {
  const errorBox = byId("report-error");
  if (!token) {
    showError(errorBox, "This link is incomplete: ask for the whole share link again.");
    return;
  }
  try {
    showShared(await api(`/shared/report?token=${encodeURIComponent(token)}`, { auth: false }));
  } catch (err) {
    const gone = err.status === 410 || err.status === 404;
    showError(errorBox, gone ? `This report cannot be opened: ${err.message}.` : err);
  }
}

load();
