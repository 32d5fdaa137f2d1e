/**
 * The capture page's court step: the court the server finds on a snapshot of the camera
 * preview, accepted ("Looks right", which saves it) or adjusted, or else the four corners
 * tapped on the preview (which can be frozen to tap steadily); saved to the session with the
 * camera's frame size.
 *
 * The page sends the snapshot to court/detect and then setup-court with the corners, rather
 * than setup-court taking a picture: one detection endpoint serves both pages, and the user
 * sees and confirms the court before the session has it.
 *
 * Element ids: #preview, #court-prompt, #court-values, #freeze-frame, #undo-corner,
 * #reset-corners, #save-court, #court-status, and CourtProposal's.
 */

import { api, byId } from "./api.js";
import { CourtProposal, State } from "./court-detect.js";
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
    this.proposal = new CourtProposal(this.picker, { what: "the camera's picture" });
    /** @type {object|null} the court the server has */
    this.saved = null;
    /** @type {number[]|null} the frame size the corners were tapped on */
    this.size = null;
    this.locked = false;
    this.busy = false;
    this.picker.addEventListener("change", () => this._changed());
    this.proposal.addEventListener("change", () => this._proposalChanged());
    // A phone turned between portrait and landscape sends frames of another shape:
    // corners tapped on the old shape no longer fit.
    this.video.addEventListener("resize", () => this._resized());
    byId("freeze-frame").addEventListener("click", () => this.setFrozen(!this.video.paused));
    byId("undo-corner").addEventListener("click", () => this._byHand(() => this.picker.undo()));
    byId("reset-corners").addEventListener("click", () => this._byHand(() => this.picker.reset()));
    byId("save-court").addEventListener("click", () => this.save());
    this.refresh();
  }

  /** Looks for the court on the camera's picture and proposes it. */
  detect() {
    return this.proposal.detect();
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
    const fits = videoWidth === frameSize[0] && videoHeight === frameSize[1];
    if (fits) this.saved = court;
    this.proposal.reset(fits ? State.ACCEPTED : State.MANUAL);
    this.picker.setEnabled(!fits);
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
    const manual = this.proposal.state === State.MANUAL;
    byId("court-prompt").textContent = this.locked || !manual ? "" : this.picker.prompt;
    byId("court-values").textContent = court
      ? CORNERS.map((name) => `${name}: ${court[name].join(", ")}`).join(" · ")
      : "";
    const editable = !this.locked && !this.busy;
    byId("undo-corner").disabled = !editable || !this.picker.points.length;
    byId("reset-corners").disabled = !editable || !this.picker.points.length;
    byId("save-court").disabled = !editable || !court || !this.proposal.settled || this.ready;
    // "Go live" waits for a saved court: say so once the four corners are there.
    if (editable && court && !this.ready) {
      byId("court-status").textContent = "Save the court first, then go live.";
    }
    this.dispatchEvent(new Event("change"));
  }

  /** "Looks right" saves the court at once: there is nothing else to confirm. */
  _proposalChanged() {
    if (this.proposal.state === State.ACCEPTED && !this.ready && !this.locked) this.save();
    else this.refresh();
  }

  /** Undo and Start again take the court out of the proposal's hands. */
  _byHand(change) {
    if (this.proposal.state !== State.MANUAL) this.proposal.adjust();
    change();
  }

  _changed() {
    // The picture's size when the first corner was tapped, or the found court was shown.
    if (!this.picker.points.length) this.size = null;
    else if (!this.size) this.size = [this.video.videoWidth, this.video.videoHeight];
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
      "looking for the court again.");
    this.detect();
  }
}
