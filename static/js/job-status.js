/** How a job's state reads on the pages: status words, and whether it is still moving. */

import { formatPercent } from "./format.js";

const LABELS = {
  uploading: "Uploading",
  queued: "Queued",
  running: "Analysing",
  done: "Done",
  failed: "Failed",
};

/** @returns {boolean} whether the server is still working on the job (worth polling) */
export function isActive(job) {
  return job.status === "queued" || job.status === "running";
}

/**
 * @param {{status: string, progress: number, remaining_s?: number|null}} job
 * @returns {string} e.g. "Analysing 42%, about 6 min left"
 */
export function statusText(job) {
  const label = LABELS[job.status] || job.status;
  if (job.status !== "running") return label;
  const text = `${label} ${formatPercent(job.progress)}`;
  const left = timeLeft(job.remaining_s);
  return left ? `${text}, ${left}` : text;
}

/**
 * @param {number|null|undefined} seconds the server's estimate
 * @returns {string} e.g. "about 6 min left", "about 1 h 5 min left"; "" with no estimate
 */
export function timeLeft(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  if (seconds < 60) return "less than a minute left";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min left`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `about ${hours} h ${rest} min left` : `about ${hours} h left`;
}

/**
 * Calls load() now and again every intervalMs for as long as it resolves to true; while the
 * tab is hidden the next call waits until it is shown again.
 * @param {() => Promise<boolean>} load returns whether to keep polling
 * @param {number} intervalMs
 */
export function pollWhile(load, intervalMs) {
  const tick = async () => {
    let again = true;
    try {
      again = await load();
    } catch {
      // A failed poll (network blip) is shown by load() itself; keep trying.
    }
    if (!again) return;
    setTimeout(() => {
      if (!document.hidden) tick();
      else document.addEventListener("visibilitychange", tick, { once: true });
    }, intervalMs);
  };
  tick();
}
