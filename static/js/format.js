/** Number, size and time formatting shared by the pages. */

/**
 * @param {number} bytes
 * @returns {string} e.g. "1.8 MB"
 */
export function formatBytes(bytes) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/**
 * @param {number} seconds
 * @param {number} [decimals] digits after the seconds' point
 * @returns {string} "m:ss" or "m:ss.s"
 */
export function formatClock(seconds, decimals = 0) {
  const safe = Math.max(0, seconds || 0);
  const minutes = Math.floor(safe / 60);
  const rest = safe - minutes * 60;
  const width = decimals ? 3 + decimals : 2;
  return `${minutes}:${rest.toFixed(decimals).padStart(width, "0")}`;
}

/**
 * @param {number} fraction 0..1
 * @returns {string} e.g. "42%"
 */
export function formatPercent(fraction) {
  return `${Math.round(Math.max(0, Math.min(1, fraction || 0)) * 100)}%`;
}

/**
 * @param {string|null} iso an ISO timestamp from the API
 * @returns {string} local date and time, or "" when absent
 */
export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** Shot type names as people say them: "short_serve" -> "Short serve". */
export function shotLabel(type) {
  const words = String(type).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The nine shot types, in the order the report's charts list them. */
export const SHOT_TYPES = [
  "short_serve",
  "long_serve",
  "clear",
  "drive",
  "smash",
  "net_shot",
  "drop",
  "lift",
  "push",
];
