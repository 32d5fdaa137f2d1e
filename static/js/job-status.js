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
 * @param {{status: string, progress: number}} job
 * @returns {string} e.g. "Analysing 42%"
 */
export function statusText(job) {
  const label = LABELS[job.status] || job.status;
  return job.status === "running" ? `${label} ${formatPercent(job.progress)}` : label;
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
