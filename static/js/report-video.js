/**
 * The report's video: one or more recordings of the match, each placed in the match's time
 * (the time the shots have) by its offset. An upload is one recording at offset 0; a live
 * session may have several, started and stopped during it, each beginning some seconds
 * into the session. Seeking to a match time picks the recording that holds it.
 *
 * Element ids: the <video> given, and #recording-picker (one button per recording, shown
 * when there are several; the playing one has aria-pressed=true).
 */

import { el } from "./api.js";
import { formatClock } from "./format.js";

export class RecordingPlayer {
  /**
   * @param {HTMLVideoElement} video
   * @param {HTMLElement} picker where the recording buttons go
   */
  constructor(video, picker) {
    this.video = video;
    this.picker = picker;
    /** @type {Array<{url: string, offset_s: number|null, duration_s: number|null}>} */
    this.recordings = [];
    this.current = -1;
  }

  /** @param {Array<{url: string, offset_s: number|null, duration_s: number|null}>} list */
  setRecordings(list) {
    this.recordings = list.filter((r) => r.url);
    this.current = -1;
    this.video.hidden = !this.recordings.length;
    this.picker.hidden = this.recordings.length < 2;
    this.picker.replaceChildren(...this.recordings.map((recording, i) => {
      const button = el("button", { type: "button", class: "recording", text: this._label(i) });
      button.addEventListener("click", () => this._show(i));
      return button;
    }));
    if (this.recordings.length) this._show(0);
  }

  get hasVideo() {
    return this.recordings.length > 0;
  }

  /** A word for the page on what the shots can play. */
  get hint() {
    if (!this.recordings.length) {
      return "There is no video to play the shots in: it was not recorded.";
    }
    if (!this.recordings.some((r) => r.offset_s != null)) {
      return "Where the recording starts in the session is not known: play it from its start.";
    }
    return "Choose a shot to play it.";
  }

  /** @returns {number} the recording that holds match time t, or -1 */
  recordingAt(t) {
    return this.recordings.findIndex((r) =>
      r.offset_s != null && t >= r.offset_s - 0.05 &&
      (r.duration_s == null || t <= r.offset_s + r.duration_s + 0.05));
  }

  /** Match time of the frame shown, or null when the recording's place is unknown. */
  get time() {
    const recording = this.recordings[this.current];
    if (!recording || recording.offset_s == null) return null;
    return recording.offset_s + this.video.currentTime;
  }

  /**
   * Shows match time t (in the recording that holds it) and plays from there.
   * @returns {boolean} false when no recording holds t
   */
  seek(t, leadS = 0) {
    const index = this.recordingAt(t);
    if (index < 0) return false;
    const recording = this.recordings[index];
    const at = Math.max(0, t - leadS - recording.offset_s);
    this._show(index);
    const go = () => {
      this.video.currentTime = at;
      this.video.play().catch(() => {}); // Playback may be refused; the seek still shows it.
    };
    if (this.video.readyState >= HTMLMediaElement.HAVE_METADATA) go();
    else this.video.addEventListener("loadedmetadata", go, { once: true });
    return true;
  }

  pause() {
    this.video.pause();
  }

  _show(index) {
    if (index === this.current) return;
    this.current = index;
    this.video.src = this.recordings[index].url;
    [...this.picker.children].forEach((button, i) => {
      button.setAttribute("aria-pressed", String(i === index));
    });
  }

  _label(i) {
    const { offset_s: offset, duration_s: duration } = this.recordings[i];
    const name = `Recording ${i + 1}`;
    if (offset == null) return name;
    const end = duration == null ? "" : formatClock(offset + duration, 0);
    return `${name} (${formatClock(offset, 0)}–${end})`;
  }
}
