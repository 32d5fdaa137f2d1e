/**
 * The capture page's court step: the four corners tapped on the live camera preview (which
 * can be frozen to tap steadily), saved to the session with the camera's frame size.
 *
 * Element ids: #preview, #court-prompt, #court-values, #freeze-frame, #undo-corner,
 * #reset-corners, #save-court, #court-status.
 */

import { api, byId } from "./api.js";
import { CORNERS, CourtPicker } from "./court-picker.js";

function sameCourt(a, b) {
  if (!a || !b) return a === b;
  return CORNERS.every((name) => a[name].every((v, i) => v === b[name][i]));
}

export class CourtStep extends EventTarget {
  /**
   * @param {string} sessionId
   * @param {(error: Error|string) => void} onError
   */
  constructor(sessionId, onError) {
    super();
    this.path = `/stream/${encodeURIComponent(sessionId)}/setup-court`;
    this.onError = onError;
    this.video = byId("preview");
    this.picker = new CourtPicker(this.video);
    /** @type {object|null} the court the server has */
    this.saved = null;
    /** @type {number[]|null} the frame size the corners were tapped on */
    this.size = null;
    this.locked = false;
    this.busy = false;
    this.picker.addEventListener("change", () => this._changed());
    // A phone turned between portrait and landscape sends frames of another shape:
    // corners tapped on the old shape no longer fit.
    this.video.addEventListener("resize", () => this._resized());
    byId("freeze-frame").addEventListener("click", () => this.setFrozen(!this.video.paused));
    byId("undo-corner").addEventListener("click", () => this.picker.undo());
    byId("reset-corners").addEventListener("click", () => this.picker.reset());
    byId("save-court").addEventListener("click", () => this.save());
    this.refresh();
  }

  /** @returns {boolean} the corners on screen are the ones the server has */
  get ready() {
    return Boolean(this.saved) && sameCourt(this.saved, this.picker.court());
  }

  /**
   * Shows a court the session already has (after a reload); it counts as saved if the
   * camera's picture still has the size it was marked on.
   * @param {object|null} court
   * @param {number[]|null} frameSize
   */
  restore(court, frameSize) {
    if (!court || !frameSize) return;
    this.picker.setCourt(court);
    this.size = frameSize;
    const { videoWidth, videoHeight } = this.video;
    if (videoWidth === frameSize[0] && videoHeight === frameSize[1]) this.saved = court;
    this.refresh();
  }

  /** Stops taps once streaming: the outline stays over the preview to check the framing. */
  lock() {
    this.locked = true;
    this.picker.setEnabled(false);
    this.setFrozen(false);
    this.refresh();
  }

  /** @param {boolean} frozen whether the preview holds still (the camera keeps running) */
  setFrozen(frozen) {
    if (frozen) this.video.pause();
    else this.video.play().catch(() => {});
    const button = byId("freeze-frame");
    button.setAttribute("aria-pressed", String(frozen));
    button.textContent = frozen ? "Live picture" : "Freeze the picture";
  }

  async save() {
    const court = this.picker.court();
    if (!court || this.busy) return;
    this.busy = true;
    this.refresh();
    this.onError("");
    const frameSize = [this.video.videoWidth, this.video.videoHeight];
    try {
      await api(this.path, { method: "POST", body: { court, frame_size: frameSize } });
      this.saved = court;
      this.size = frameSize;
      byId("court-status").textContent = "Court saved. Go live when the players are ready.";
    } catch (error) {
      this.onError(`The court could not be saved: ${error.message}`);
    } finally {
      this.busy = false;
      this.refresh();
    }
  }

  refresh() {
    const court = this.picker.court();
    byId("court-prompt").textContent = this.locked ? "" : this.picker.prompt;
    byId("court-values").textContent = court
      ? CORNERS.map((name) => `${name}: ${court[name].join(", ")}`).join(" · ")
      : "";
    const editable = !this.locked && !this.busy;
    byId("undo-corner").disabled = !editable || !this.picker.points.length;
    byId("reset-corners").disabled = !editable || !this.picker.points.length;
    byId("save-court").disabled = !editable || !court || this.ready;
    // "Go live" waits for a saved court: say so once the four corners are there.
    if (editable && court && !this.ready) {
      byId("court-status").textContent = "Save the court first, then go live.";
    }
    this.dispatchEvent(new Event("change"));
  }

  _changed() {
    if (this.picker.points.length === 1) {
      this.size = [this.video.videoWidth, this.video.videoHeight];
    }
    if (!this.ready) byId("court-status").textContent = "";
    this.refresh();
  }

  _resized() {
    this.picker.redraw();
    const { videoWidth, videoHeight } = this.video;
    if (this.locked || !this.size || !this.picker.points.length) return;
    if (videoWidth === this.size[0] && videoHeight === this.size[1]) return;
    this.saved = null;
    this.size = null;
    this.picker.reset();
    this.onError("The camera's picture changed shape (was the phone turned?): " +
      "tap the corners again.");
  }
}
