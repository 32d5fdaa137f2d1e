/**
 * Where the report page's match comes from, read from the page's address:
 *   report.html?job=<id>      an uploaded match (its owner)
 *   report.html?live=<id>     a live session (its owner)
 *   report.html#view=<token>  a live session through a viewer link: read-only, no account
 *
 * Every source answers the same two questions, so the page does not care which it has:
 *   state()   -> {title, status, statusText, note, progress, error, ready, active, job}
 *   results() -> {report, outputs: {report, heatmap_near, heatmap_far, recordings}}
 * where recordings are [{url, offset_s, duration_s}] and offset_s places a recording's start
 * among the shots' times (null: unknown, it plays but shots cannot seek it).
 */

import { api } from "./api.js";
import { isActive, statusText } from "./job-status.js";

const LIVE_STATUS = {
  setup: { text: "Not started", note: "The session has not started streaming yet." },
  streaming: { text: "Live now", note: "The report is written when the session ends." },
  ended: { text: "Ended", note: "" },
};

/** @returns {object|null} the source the address names, or null when it names none */
export function sourceFromLocation(loc = location) {
  const token = new URLSearchParams(loc.hash.slice(1)).get("view");
  if (token) return viewerSource(token);
  const params = new URLSearchParams(loc.search);
  if (params.get("live")) return liveSource(params.get("live"));
  if (params.get("job")) return jobSource(params.get("job"));
  return null;
}

function jobSource(jobId) {
  const path = `/jobs/${encodeURIComponent(jobId)}`;
  return {
    kind: "upload",
    readOnly: false,
    missing: "This job does not exist or belongs to another account.",
    async state() {
      const job = await api(path);
      const notes = {
        uploading: "The video has not finished uploading.",
        queued: "Waiting for a free analyser…",
        running: "The video is being analysed.",
      };
      return {
        title: job.filename,
        status: job.status,
        statusText: statusText(job),
        note: notes[job.status] || "",
        progress: isActive(job) ? job.progress || 0 : null,
        error: job.status === "failed" ? job.error || "The analysis failed." : "",
        ready: job.status === "done",
        active: isActive(job),
        job,
      };
    },
    /** Signed URLs of the outputs; for a failed job, of its video only. */
    outputs() {
      return api(`${path}/outputs`);
    },
    async results() {
      const [report, outputs] = await Promise.all([api(`${path}/report`), api(`${path}/outputs`)]);
      // An upload is one recording, the whole match, from its start. Videos browsers cannot
      // play (MPEG-4 Part 2, HEVC) come with an H.264 copy to watch.
      const video = outputs.playable_video || outputs.video;
      const recordings = video ? [{ url: video, offset_s: 0, duration_s: null }] : [];
      return { report, outputs: { ...outputs, recordings } };
    },
  };
}

/** A live session's state, the same words for its owner and for a viewer. */
function sessionState(session) {
  const status = LIVE_STATUS[session.status] || { text: session.status, note: "" };
  const ended = session.status === "ended";
  const noReport = ended && !session.report_ready;
  return {
    title: session.name || "Live session",
    status: session.status,
    statusText: status.text,
    note: status.note,
    progress: null,
    error: noReport
      ? `This session has no report: ${session.error || "nothing was analysed"}.`
      : "",
    ready: ended && session.report_ready,
    active: !ended,
    job: null,
  };
}

function liveSource(sessionId) {
  const path = `/stream/${encodeURIComponent(sessionId)}`;
  return {
    kind: "live",
    readOnly: false,
    missing: "This live session does not exist or belongs to another account.",
    async state() {
      const session = await api(`${path}/status`);
      return sessionState({ ...session, report_ready: session.report_key != null });
    },
    /** Signed URLs of the outputs; for a failed job, of its video only. */
    outputs() {
      return api(`${path}/outputs`);
    },
    async results() {
      const [report, outputs] = await Promise.all([api(`${path}/report`), api(`${path}/outputs`)]);
      return { report, outputs };
    },
  };
}

function viewerSource(token) {
  const path = `/view/${encodeURIComponent(token)}`;
  const get = (suffix) => api(path + suffix, { auth: false });
  return {
    kind: "live",
    readOnly: true,
    missing: "This link does not open a report.",
    async state() {
      const info = await get("");
      return sessionState(info);
    },
    async results() {
      const [report, outputs] = await Promise.all([get("/report"), get("/outputs")]);
      return { report, outputs };
    },
  };
}
