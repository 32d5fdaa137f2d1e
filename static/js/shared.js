/**
 * The page a share link opens (shared.html#<token>): one finished report, of an upload or a
 * live session, read-only and without an account: summary, video with seekable shots (a live
 * session's recordings placed in its time, as on the report page), rallies, shot chart, court
 * diagram, heatmaps and the shots as CSV. The token stays in the #fragment, which the
 * browser never sends; the API gets it in a query string, which the server does not log.
 */

import { api, byId, showError } from "./api.js";
import { formatDate } from "./format.js";
import { drawCourt, drawShotChart } from "./report-charts.js";
import { countTypes, fillRallyTable, fillShotTable, fillSummary } from "./report-tables.js";
import { RecordingPlayer } from "./report-video.js";

// Seeking a little before the hit shows the swing, not just the follow-through.
const SEEK_LEAD_S = 0.5;

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
  fillShotTable(shots, player, seekToShot);
  fillRallyTable(report.rallies || [], (report.video || {}).fps);
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
