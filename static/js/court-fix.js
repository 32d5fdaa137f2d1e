/**
 * "Court looks wrong? Correct it" on the report page: the job's video in a CourtPicker with
 * the corners the analysis used, and a button that sends corrected corners so the video is
 * analysed again.
 */

import { api, byId, showError } from "./api.js";
import { CORNERS, CourtPicker } from "./court-picker.js";
import { formatClock } from "./format.js";

// Corners are kept to a tenth of a pixel; a smaller difference is the same court.
const SAME_PX = 0.05;

/**
 * @param {object|null} a court JSON
 * @param {object|null} b court JSON
 * @returns {boolean} whether both name the same four corners
 */
function sameCourt(a, b) {
  if (!a || !b) return a === b;
  return CORNERS.every((name) =>
    a[name].every((value, i) => Math.abs(value - b[name][i]) < SAME_PX),
  );
}

/** The court correction section (#court-fix) of one job's report. */
export class CourtFix {
  /**
   * @param {string} jobId
   * @param {(job: object) => void} onQueued called with the job once the server has queued
   *   it again with the new court
   */
  constructor(jobId, onQueued) {
    this.jobId = jobId;
    this.onQueued = onQueued;
    this.box = byId("court-fix");
    this.video = byId("court-fix-video");
    this.scrub = byId("court-fix-scrub");
    this.errorBox = byId("court-fix-error");
    this.button = byId("reanalyse");
    this.picker = new CourtPicker(this.video, {
      label: "Court corners: drag a corner to move it",
    });
    /** @type {object|null} the court the shown report was made with */
    this.court = null;
    this.videoUrl = "";
    this.sending = false;

    this.picker.addEventListener("change", () => this._refresh());
    this.box.addEventListener("toggle", () => this._loadVideo());
    this.video.addEventListener("loadedmetadata", () => this._videoReady());
    this.video.addEventListener("error", () => this._videoFailed());
    for (const name of ["timeupdate", "seeked"]) {
      this.video.addEventListener(name, () => this._showTime());
    }
    this.scrub.addEventListener("input", () => {
      this.video.currentTime = Number(this.scrub.value);
    });
    byId("court-fix-undo").addEventListener("click", () => this.picker.undo());
    byId("court-fix-restore").addEventListener("click", () => this.picker.setCourt(this.court));
    this.button.addEventListener("click", () => this._send());
  }

  /**
   * Sets the section up for a finished job, collapsed; it is hidden when there is no video.
   * @param {{court: object|null}} job
   * @param {string|undefined} videoUrl signed URL of the uploaded video
   */
  show(job, videoUrl) {
    this.court = job.court;
    this.videoUrl = videoUrl || "";
    this.box.hidden = !this.videoUrl;
    this.box.open = false;
    // The signed URL changes with every report; a stale one would expire, so the video is
    // fetched afresh when the section is next opened.
    this.video.removeAttribute("src");
    this.video.load();
    showError(this.errorBox, "");
    this.picker.setCourt(this.court);
  }

  /** Loads the video the first time the section is opened (it costs a phone's data). */
  _loadVideo() {
    if (!this.box.open || !this.videoUrl || this.video.getAttribute("src")) return;
    this.video.src = this.videoUrl;
  }

  _videoReady() {
    if (!this.video.videoWidth || !this.video.videoHeight) {
      this._videoFailed();
      return;
    }
    this.scrub.max = String(this.video.duration || 0);
    // A moment in rather than frame 0, which is often black; it also makes the browser paint
    // a frame at all, which preload="metadata" alone does not promise.
    this.video.currentTime = Math.min(1, (this.video.duration || 0) / 2);
    this.picker.redraw();
  }

  _videoFailed() {
    if (!this.video.getAttribute("src")) return; // show() emptied it on purpose
    showError(this.errorBox, "This browser cannot show the video, so the corners cannot be moved.");
  }

  _showTime() {
    this.scrub.value = String(this.video.currentTime);
    byId("court-fix-time").value = formatClock(this.video.currentTime, 1);
  }

  _refresh() {
    const court = this.picker.court();
    const changed = Boolean(court) && !sameCourt(court, this.court);
    byId("court-fix-prompt").textContent =
      court && !changed ? "These are the current corners. Drag one to move it." : this.picker.prompt;
    byId("court-fix-values").textContent = court
      ? CORNERS.map((name) => `${name}: ${court[name].join(", ")}`).join(" · ")
      : "";
    byId("court-fix-undo").disabled = this.sending || !this.picker.points.length;
    byId("court-fix-restore").disabled =
      this.sending || sameCourt(this.picker.court(), this.court) || !this.court;
    this.button.disabled = this.sending || !changed;
    this.picker.setEnabled(!this.sending);
  }

  async _send() {
    const court = this.picker.court();
    if (!court || this.sending) return;
    const question = "Analyse the video again with these corners? The new report replaces this one.";
    if (!window.confirm(question)) return;
    this.sending = true;
    showError(this.errorBox, "");
    this._refresh();
    try {
      const job = await api(`/jobs/${encodeURIComponent(this.jobId)}/court`, {
        method: "POST",
        body: { court },
      });
      this.box.open = false;
      this.onQueued(job);
    } catch (err) {
      showError(this.errorBox, `Could not analyse the video again: ${err.message}`);
    } finally {
      this.sending = false;
      this._refresh();
    }
  }
}
