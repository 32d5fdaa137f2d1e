/**
 * The court found by the server on a picture (a frame of the chosen video, or the camera
 * preview), proposed on a CourtPicker: "Looks right" accepts it, "Adjust" lets its corners
 * be dragged. When no court is found the picker is left empty for the four corners to be
 * tapped, as before.
 *
 * Element ids: #court-detect-status, #court-accept, #court-adjust, #court-detect.
 */

import { ApiError, api, byId } from "./api.js";

const JPEG_QUALITY = 0.9;

/**
 * The picture a <video> (or <canvas>) shows now, at its own pixel size, as a JPEG.
 * @param {HTMLVideoElement|HTMLCanvasElement} source
 * @returns {Promise<Blob>}
 */
export function grabFrame(source) {
  const video = source instanceof HTMLVideoElement;
  const canvas = document.createElement("canvas");
  canvas.width = video ? source.videoWidth : source.width;
  canvas.height = video ? source.videoHeight : source.height;
  canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => {
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error("the picture could not be copied"))),
      "image/jpeg",
      JPEG_QUALITY,
    );
  });
}

/**
 * Asks the server for the court on a picture.
 * @param {Blob} picture JPEG or PNG
 * @returns {Promise<{court: object, confidence: number, frame_size: number[]}|null>} null
 *   when the server finds no court on it
 */
export async function detectCourt(picture) {
  try {
    return await api("/court/detect", { method: "POST", body: picture });
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) return null;
    throw error;
  }
}

/** What the court step shows: looking, a court to confirm, confirmed, or tapped by hand. */
export const State = {
  IDLE: "idle",
  DETECTING: "detecting",
  PROPOSED: "proposed",
  ACCEPTED: "accepted",
  MANUAL: "manual",
};

export class CourtProposal extends EventTarget {
  /**
   * @param {import("./court-picker.js").CourtPicker} picker shows (and edits) the corners
   * @param {{what?: string}} [options] what: how the prompts name the picture
   */
  constructor(picker, { what = "this picture" } = {}) {
    super();
    this.picker = picker;
    this.what = what;
    this.state = State.IDLE;
    this._run = 0;
    byId("court-accept").addEventListener("click", () => this.accept());
    byId("court-adjust").addEventListener("click", () => this.adjust());
    byId("court-detect").addEventListener("click", () => this.detect());
    this._show("");
  }

  /** @returns {boolean} the corners on screen are confirmed (accepted, or placed by hand) */
  get settled() {
    return this.state === State.ACCEPTED || this.state === State.MANUAL;
  }

  /** Looks for the court on what the picker's source shows now. */
  async detect() {
    const run = ++this._run;
    const source = this.picker.source;
    this.state = State.DETECTING;
    this.picker.setEnabled(false);
    this._show("Looking for the court…");
    let found = null;
    let problem = "";
    try {
      found = await detectCourt(await grabFrame(source));
    } catch (error) {
      problem = `The court could not be looked for (${error.message}).`;
    }
    if (run !== this._run) return; // a newer search, or the user took over meanwhile
    const { width, height } = this.picker.intrinsicSize;
    if (found && found.frame_size[0] === width && found.frame_size[1] === height) {
      this.state = State.PROPOSED;
      this.picker.setCourt(found.court);
      const sure = Math.round(found.confidence * 100);
      this._show(`Court found (${sure}% sure). Does the outline sit on the court's outer ` +
        "lines? Choose Looks right, or Adjust to drag its corners.");
      return;
    }
    this.state = State.MANUAL;
    this.picker.reset();
    this.picker.setEnabled(true);
    this._show(problem || `No court found on ${this.what}: tap its four outer corners.`);
  }

  accept() {
    if (this.state !== State.PROPOSED || !this.picker.complete) return;
    this._run++;
    this.state = State.ACCEPTED;
    this._show("Court accepted.");
  }

  /** Lets the corners be dragged (or tapped again after "Start again"). */
  adjust() {
    this._run++;
    this.state = State.MANUAL;
    this.picker.setEnabled(true);
    this._show("Drag each corner onto the court's outer corner.");
  }

  /** Forgets the proposal (a new video, or a court restored from the server). */
  reset(state = State.IDLE) {
    this._run++;
    this.state = state;
    this._show("");
  }

  _show(text) {
    byId("court-detect-status").textContent = text;
    byId("court-accept").hidden = this.state !== State.PROPOSED;
    byId("court-adjust").hidden = this.state !== State.PROPOSED && this.state !== State.ACCEPTED;
    byId("court-detect").disabled = this.state === State.DETECTING;
    this.dispatchEvent(new Event("change"));
  }
}
