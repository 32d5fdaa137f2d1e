/**
 * Sends a video straight to storage through the API's pre-signed URLs, then queues its
 * analysis: one PUT for files up to SINGLE_PUT_MAX_BYTES, parallel multipart parts above.
 */

import { api, ApiError } from "./api.js";

/** The server's limit for a single PUT (100 MiB); bigger files go in parts. */
export const SINGLE_PUT_MAX_BYTES = 100 * 1024 * 1024;
const PARALLEL_PARTS = 4;
const TRIES = 3;
const RETRY_BASE_MS = 1000;

const VIDEO_TYPES = {
  mp4: "video/mp4",
  m4v: "video/mp4",
  mov: "video/quicktime",
  webm: "video/webm",
  mkv: "video/x-matroska",
  avi: "video/x-msvideo",
  "3gp": "video/3gpp",
};

/** Raised by start() when cancel() stopped the upload. */
export class UploadCancelled extends Error {
  constructor() {
    super("Upload cancelled.");
    this.name = "UploadCancelled";
  }
}

/** A failed PUT to storage; retryable when another try may succeed (network, 5xx). */
class TransferError extends Error {
  constructor(message, retryable) {
    super(message);
    this.name = "TransferError";
    this.retryable = retryable;
  }
}

/**
 * The file's video MIME type, from the browser or else its extension; null if not a video.
 * @param {File} file
 * @returns {string|null}
 */
export function videoContentType(file) {
  if (file.type.startsWith("video/")) return file.type;
  if (file.type) return null;
  const extension = file.name.split(".").pop().toLowerCase();
  return VIDEO_TYPES[extension] || null;
}

/**
 * One upload of one file. Progress and stage changes arrive through callbacks:
 * onProgress(sentBytes, totalBytes) and onStage(text).
 */
export class VideoUpload {
  /**
   * @param {File} file
   * @param {object} court the court JSON for the job
   * @param {{onProgress?: (sent: number, total: number) => void,
   *          onStage?: (text: string) => void,
   *          singlePutMaxBytes?: number}} [options]
   */
  constructor(file, court, options = {}) {
    this.file = file;
    this.court = court;
    this.onProgress = options.onProgress || (() => {});
    this.onStage = options.onStage || (() => {});
    this.singlePutMaxBytes = options.singlePutMaxBytes ?? SINGLE_PUT_MAX_BYTES;
    this.contentType = videoContentType(file);
    /** @type {string|null} */
    this.jobId = null;
    this.multipart = false;
    this.cancelled = false;
    this._stopped = false;
    this._requests = new Set();
    /** @type {Map<number, () => void>} pending retry pauses and how to end them early */
    this._pauses = new Map();
  }

  /**
   * Uploads, completes and confirms.
   * @returns {Promise<object>} the queued job
   */
  async start() {
    if (!this.contentType) throw new Error("This file is not a video.");
    try {
      if (this.file.size > this.singlePutMaxBytes) await this._multipart();
      else await this._single();
      this._checkCancelled();
      this.onStage("Starting the analysis…");
      const job = await api(`/upload/confirm/${this.jobId}`, {
        method: "POST",
        body: { court: this.court },
      });
      return job;
    } catch (err) {
      if (this.cancelled) throw new UploadCancelled();
      throw err;
    }
  }

  /** Stops every transfer and tells the server to drop what was sent. */
  async cancel() {
    if (this.cancelled) return;
    this.cancelled = true;
    this._abortTransfers();
    await this._release();
  }

  _abortTransfers() {
    this._stopped = true;
    for (const xhr of this._requests) xhr.abort();
    for (const [timer, wake] of this._pauses) {
      clearTimeout(timer);
      wake();
    }
    this._pauses.clear();
  }

  /** After a failed transfer: stops the others and frees the space (cancel() does both). */
  async _fail() {
    if (this.cancelled) return;
    this._abortTransfers();
    await this._release();
  }

  /** Frees what storage holds of an upload that will not be finished. */
  async _release() {
    if (!this.jobId) return;
    try {
      if (this.multipart) {
        await api("/upload/multipart/abort", { method: "POST", body: { job_id: this.jobId } });
      } else {
        // A single PUT has no abort call: deleting the job removes its half-sent upload.
        await api(`/jobs/${this.jobId}`, { method: "DELETE" });
      }
    } catch {
      // Best effort: the upload URL expires and the job never leaves "uploading".
    }
  }

  _checkCancelled() {
    if (this.cancelled) throw new UploadCancelled();
  }

  /** Keeps the new job's id; a cancel that came while it was being created frees it now. */
  async _adopt(jobId) {
    this.jobId = jobId;
    if (this.cancelled) {
      await this._release();
      throw new UploadCancelled();
    }
  }

  _describe() {
    return {
      filename: this.file.name,
      content_type: this.contentType,
      size: this.file.size,
      court: this.court,
    };
  }

  async _single() {
    this.onStage("Preparing the upload…");
    let ticket;
    try {
      ticket = await api("/upload/request", { method: "POST", body: this._describe() });
    } catch (err) {
      // The server's single-PUT limit is the authority: over it, go multipart instead.
      if (err instanceof ApiError && err.status === 413) return this._multipart();
      throw err;
    }
    await this._adopt(ticket.job_id);
    this.onStage("Uploading…");
    const headers = { ...(ticket.headers || {}) };
    if (!headers["Content-Type"]) headers["Content-Type"] = this.contentType;
    const method = ticket.method || "PUT";
    try {
      await this._putWithRetries("Upload", () =>
        this._put(method, ticket.upload_url, this.file, headers, (sent) =>
          this.onProgress(sent, this.file.size),
        ),
      );
    } catch (err) {
      await this._fail();
      throw err;
    }
    this.onProgress(this.file.size, this.file.size);
  }

  async _multipart() {
    this.multipart = true;
    this.onStage("Preparing the upload…");
    const plan = await api("/upload/multipart/init", { method: "POST", body: this._describe() });
    await this._adopt(plan.job_id);
    this.onStage(`Uploading in ${plan.parts.length} parts…`);
    const sentByPart = new Map();
    const report = () => {
      let sent = 0;
      for (const bytes of sentByPart.values()) sent += bytes;
      this.onProgress(sent, this.file.size);
    };
    const queue = [...plan.parts];
    const done = [];
    const worker = async () => {
      while (queue.length && !this._stopped) {
        const part = queue.shift();
        const start = (part.part_number - 1) * plan.part_size;
        const blob = this.file.slice(start, Math.min(start + plan.part_size, this.file.size));
        const onSent = (sent) => {
          sentByPart.set(part.part_number, sent);
          report();
        };
        const etag = await this._putWithRetries(`Part ${part.part_number}`, async () => {
          onSent(0);
          const tag = await this._put("PUT", part.url, blob, {}, onSent);
          if (!tag) {
            throw new TransferError(
              "the storage did not return the part's ETag header (is it exposed by CORS?)",
              false,
            );
          }
          return tag;
        });
        done.push({ part_number: part.part_number, etag });
      }
    };
    try {
      const workers = Array.from({ length: Math.min(PARALLEL_PARTS, queue.length) }, worker);
      await Promise.all(workers);
    } catch (err) {
      await this._fail();
      throw err;
    }
    this._checkCancelled();
    this.onStage("Finishing the upload…");
    done.sort((a, b) => a.part_number - b.part_number);
    await api("/upload/multipart/complete", {
      method: "POST",
      body: { job_id: this.jobId, parts: done },
    });
  }

  /**
   * Runs a transfer up to TRIES times, pausing 1 s, then 2 s, between tries; only
   * failures another try may cure (network, 5xx) are retried.
   * @template T
   * @param {string} what names the transfer in the error message
   * @param {() => Promise<T>} transfer
   * @returns {Promise<T>}
   */
  async _putWithRetries(what, transfer) {
    for (let attempt = 1; ; attempt += 1) {
      if (this._stopped) throw new UploadCancelled();
      try {
        return await transfer();
      } catch (err) {
        if (this._stopped) throw new UploadCancelled();
        if (!err.retryable || attempt >= TRIES) {
          const tries = attempt === 1 ? "" : ` after ${attempt} tries`;
          throw new Error(`${what} failed${tries}: ${err.message}`);
        }
        await this._sleep(RETRY_BASE_MS * 2 ** (attempt - 1));
      }
    }
  }

  /** Waits ms milliseconds, or less when the transfers are aborted meanwhile. */
  _sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this._pauses.delete(timer);
        resolve();
      }, ms);
      this._pauses.set(timer, resolve);
    });
  }

  /**
   * One XMLHttpRequest PUT: unlike fetch, it reports upload progress.
   * @returns {Promise<string|null>} the response's ETag header
   */
  _put(method, url, body, headers, onSent) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this._requests.add(xhr);
      const finish = () => this._requests.delete(xhr);
      xhr.open(method, url);
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => onSent(event.loaded);
      xhr.onload = () => {
        finish();
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve(xhr.getResponseHeader("ETag"));
          return;
        }
        const retryable = xhr.status >= 500 || xhr.status === 408 || xhr.status === 429;
        const answer = `storage answered ${xhr.status} ${xhr.statusText}`.trim();
        reject(new TransferError(answer, retryable));
      };
      xhr.onerror = () => {
        finish();
        reject(new TransferError("network error", true));
      };
      xhr.onabort = () => {
        finish();
        reject(new TransferError("aborted", false));
      };
      xhr.send(body);
    });
  }
}
