/**
 * The upload page: choose a video, check the court found on one of its frames (or mark it),
 * upload, analyse. A video this browser cannot show is uploaded without a court: the
 * analysis finds it on the video first.
 */

import { byId, showError } from "./api.js";
import { initAccount } from "./account.js";
import { CourtProposal, State } from "./court-detect.js";
import { CORNERS, CourtPicker } from "./court-picker.js";
import { formatBytes, formatClock, formatPercent } from "./format.js";
import { UploadCancelled, VideoUpload, videoContentType } from "./uploader.js";

// Frame rate is unknown in the browser; a 30 fps step is one frame for most phone video.
const FRAME_STEP_S = 1 / 30;

const video = byId("preview");
const scrub = byId("scrub");
const startButton = byId("start-upload");
const cancelButton = byId("cancel-upload");
const progress = byId("upload-progress");
const uploadError = byId("upload-error");
const picker = new CourtPicker(video);
const proposal = new CourtProposal(picker, { what: "this frame" });

/** @type {File|null} */
let file = null;
let objectUrl = null;
/** @type {VideoUpload|null} */
let upload = null;
/** The browser cannot show the video: no frame to find or mark the court on. */
let previewFailed = false;

/** @returns {object|null} the court to send: confirmed corners, or none (found by the job) */
function chosenCourt() {
  return proposal.settled ? picker.court() : null;
}

function refresh() {
  byId("court-prompt").textContent = proposal.state === State.MANUAL ? picker.prompt : "";
  const court = picker.court();
  byId("court-values").textContent = court
    ? CORNERS.map((name) => `${name}: ${court[name].join(", ")}`).join(" · ")
    : "";
  byId("undo-corner").disabled = !picker.points.length || Boolean(upload);
  byId("reset-corners").disabled = !picker.points.length || Boolean(upload);
  startButton.disabled = !file || (!chosenCourt() && !previewFailed) || Boolean(upload);
}

function chooseFile() {
  const chosen = byId("file").files[0] || null;
  showError(uploadError, "");
  showError(byId("preview-error"), "");
  picker.reset();
  proposal.reset();
  previewFailed = false;
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = null;
  file = null;
  byId("file-info").textContent = "";
  byId("court-step").hidden = !chosen;
  byId("picker-area").hidden = false;
  if (chosen) {
    if (!videoContentType(chosen)) {
      showError(uploadError, `"${chosen.name}" is not a video file.`);
      byId("court-step").hidden = true;
    } else {
      file = chosen;
      byId("file-info").textContent = `${chosen.name} · ${formatBytes(chosen.size)}`;
      objectUrl = URL.createObjectURL(chosen);
      video.src = objectUrl;
    }
  }
  refresh();
}

function videoReady() {
  // No picture size means the browser read the container but cannot decode its video track.
  if (!video.videoWidth || !video.videoHeight) {
    videoFailed();
    return;
  }
  scrub.max = String(video.duration || 0);
  // A moment into the clip rather than frame 0, which is often black or a fade-in; the
  // court is looked for once the frame is there.
  video.addEventListener("seeked", () => proposal.detect(), { once: true });
  video.currentTime = Math.min(1, (video.duration || 0) / 2);
  picker.redraw();
  refresh();
}

function videoFailed() {
  if (!file) return;
  previewFailed = true;
  proposal.reset();
  byId("picker-area").hidden = true;
  byId("court-manual-box").open = true;
  showError(
    byId("preview-error"),
    "This browser cannot show this video (its codec may not be supported here). " +
      "Upload it as it is and the court will be found on the video, or type its corners " +
      "below, in the video's pixels.",
  );
  refresh();
}

function showTime() {
  scrub.value = String(video.currentTime);
  byId("scrub-time").value = formatClock(video.currentTime, 1);
  const playing = !video.paused && !video.ended;
  const toggle = byId("play-toggle");
  toggle.innerHTML = playing ? "&#10074;&#10074;" : "&#9654;";
  toggle.setAttribute("aria-label", playing ? "Pause" : "Play");
}

function step(seconds) {
  video.pause();
  video.currentTime = Math.max(0, Math.min(video.duration || 0, video.currentTime + seconds));
}

function applyManualCourt() {
  const numbers = byId("court-manual").value.split(/[\s,;]+/).filter(Boolean).map(Number);
  if (numbers.length !== 8 || numbers.some((n) => !Number.isFinite(n) || n < 0)) {
    showError(byId("preview-error"), "Type 8 numbers: x,y for each of the four corners.");
    return;
  }
  const court = Object.fromEntries(
    CORNERS.map((name, i) => [name, [numbers[2 * i], numbers[2 * i + 1]]]),
  );
  proposal.adjust();
  picker.setCourt(court);
  showError(byId("preview-error"), picker.complete ? "" : picker.prompt);
}

function showProgress(sent, total) {
  const fraction = total ? sent / total : 0;
  progress.value = fraction;
  byId("upload-status").textContent =
    `${formatBytes(sent)} of ${formatBytes(total)} (${formatPercent(fraction)})`;
}

function setUploading(active) {
  byId("file").disabled = active;
  picker.setEnabled(!active);
  cancelButton.hidden = !active;
  cancelButton.disabled = false;
  progress.hidden = !active && progress.value === 0;
  refresh();
}

function warnBeforeLeaving(event) {
  event.preventDefault();
  event.returnValue = "";
}

async function startUpload() {
  const court = chosenCourt();
  if (!file || (!court && !previewFailed)) return;
  showError(uploadError, "");
  progress.value = 0;
  upload = new VideoUpload(file, court, {
    onProgress: showProgress,
    onStage: (text) => (byId("upload-status").textContent = text),
  });
  setUploading(true);
  window.addEventListener("beforeunload", warnBeforeLeaving);
  try {
    const job = await upload.start();
    window.removeEventListener("beforeunload", warnBeforeLeaving);
    byId("upload-status").textContent = "Uploaded. Opening the job…";
    location.assign(`/static/report.html?job=${encodeURIComponent(job.id)}`);
    return;
  } catch (err) {
    window.removeEventListener("beforeunload", warnBeforeLeaving);
    if (err instanceof UploadCancelled) {
      byId("upload-status").textContent = "Upload cancelled.";
    } else {
      byId("upload-status").textContent = "";
      showError(uploadError, err);
    }
    progress.value = 0;
  }
  upload = null;
  setUploading(false);
}

async function cancelUpload() {
  if (!upload) return;
  cancelButton.disabled = true;
  byId("upload-status").textContent = "Cancelling…";
  await upload.cancel();
}

byId("file").addEventListener("change", chooseFile);
video.addEventListener("loadedmetadata", videoReady);
video.addEventListener("error", videoFailed);
for (const name of ["timeupdate", "seeked", "play", "pause", "ended"]) {
  video.addEventListener(name, showTime);
}
scrub.addEventListener("input", () => {
  video.pause();
  video.currentTime = Number(scrub.value);
});
byId("frame-back").addEventListener("click", () => step(-FRAME_STEP_S));
byId("frame-forward").addEventListener("click", () => step(FRAME_STEP_S));
byId("play-toggle").addEventListener("click", () => {
  if (video.paused || video.ended) video.play().catch(() => {});
  else video.pause();
});
/** Undo and Start again take the court out of the proposal's hands. */
function byHand(change) {
  if (proposal.state !== State.MANUAL) proposal.adjust();
  change();
}

picker.addEventListener("change", refresh);
proposal.addEventListener("change", refresh);
byId("undo-corner").addEventListener("click", () => byHand(() => picker.undo()));
byId("reset-corners").addEventListener("click", () => byHand(() => picker.reset()));
byId("apply-court").addEventListener("click", applyManualCourt);
startButton.addEventListener("click", startUpload);
cancelButton.addEventListener("click", cancelUpload);

initAccount();
refresh();
