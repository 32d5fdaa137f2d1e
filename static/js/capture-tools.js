/**
 * The capture page's session tools: recording the stream to MP4, and sharing a viewer link
 * with a coach (copy, the phone's share sheet, revoke).
 *
 * Element ids: #record-toggle, #recording-link, #share-viewer, #viewer-link-box,
 * #viewer-url, #copy-viewer-url, #send-viewer-url, #revoke-viewer, #viewer-link-note.
 */

import { api, byId } from "./api.js";
import { formatDate } from "./format.js";

/** The record toggle and the link to the newest recording. */
export class RecordingControl {
  /**
   * @param {string} sessionId
   * @param {(error: Error|string) => void} onError
   */
  constructor(sessionId, onError) {
    this.path = `/stream/${encodeURIComponent(sessionId)}/recording`;
    this.onError = onError;
    this.button = byId("record-toggle");
    this.link = byId("recording-link");
    this.recording = false;
    this.busy = false;
    this.count = 0;
    this.button.addEventListener("click", () => this.toggle());
    this._show();
  }

  /** @param {boolean} recording the server's word (polled status), unless a request is out */
  sync(recording) {
    if (this.busy || recording === this.recording) return;
    this.recording = recording;
    this._show();
  }

  setEnabled(enabled) {
    this.button.disabled = !enabled || this.busy;
  }

  async toggle() {
    if (this.busy) return;
    this.busy = true;
    this.button.disabled = true;
    this.onError("");
    try {
      if (!this.recording) {
        await api(`${this.path}/start`, { method: "POST" });
        this.recording = true;
      } else {
        this.button.textContent = "Saving the recording…";
        const { url } = await api(`${this.path}/stop`, { method: "POST" });
        this.recording = false;
        this.count += 1;
        this.link.href = url;
        this.link.textContent = `Watch recording ${this.count} (MP4)`;
        this.link.hidden = false;
      }
    } catch (error) {
      this.onError(`Recording: ${error.message}`);
    } finally {
      this.busy = false;
      this.button.disabled = false;
      this._show();
    }
  }

  _show() {
    this.button.textContent = this.recording ? "Stop recording" : "Start recording";
    this.button.setAttribute("aria-pressed", String(this.recording));
    this.button.classList.toggle("recording", this.recording);
  }
}

/** "Share viewer link": makes a link a coach can open without an account. */
export class ViewerLinkControl {
  /**
   * @param {string} sessionId
   * @param {(error: Error|string) => void} onError
   */
  constructor(sessionId, onError) {
    this.path = `/stream/${encodeURIComponent(sessionId)}/viewers`;
    this.onError = onError;
    this.link = null;
    this.shareButton = byId("share-viewer");
    this.box = byId("viewer-link-box");
    this.url = byId("viewer-url");
    this.note = byId("viewer-link-note");
    this.shareButton.addEventListener("click", () => this.create());
    byId("copy-viewer-url").addEventListener("click", () => this.copy());
    byId("revoke-viewer").addEventListener("click", () => this.revoke());
    const send = byId("send-viewer-url");
    send.hidden = typeof navigator.share !== "function";
    send.addEventListener("click", () => this.send());
  }

  setEnabled(enabled) {
    this.shareButton.disabled = !enabled;
  }

  async create() {
    this.shareButton.disabled = true;
    this.onError("");
    try {
      this.link = await api(this.path, { method: "POST", body: {} });
      this.url.value = this.link.url;
      this.note.textContent = `Anyone with this link can watch until ${
        formatDate(this.link.expires_at)}.`;
      this.box.hidden = false;
      this.shareButton.textContent = "New viewer link";
    } catch (error) {
      this.onError(`Viewer link: ${error.message}`);
    } finally {
      this.shareButton.disabled = false;
    }
  }

  async copy() {
    try {
      await navigator.clipboard.writeText(this.url.value);
      this.note.textContent = "Link copied.";
    } catch {
      // No clipboard API (plain http) or no permission: leave it selected to copy by hand.
      this.url.select();
      this.note.textContent = "Copy the selected link.";
    }
  }

  async send() {
    try {
      await navigator.share({ title: "Watch the match live", url: this.url.value });
    } catch {
      // The share sheet was closed: nothing to do.
    }
  }

  async revoke() {
    if (!this.link) return;
    try {
      await api(`${this.path}/${encodeURIComponent(this.link.id)}`, { method: "DELETE" });
      this.link = null;
      this.url.value = "";
      this.box.hidden = true;
      this.shareButton.textContent = "Share viewer link";
    } catch (error) {
      this.onError(`Viewer link: ${error.message}`);
    }
  }
}
