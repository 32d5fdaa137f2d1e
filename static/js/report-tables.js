/**
 * The parts of a report shown the same way on the report page and on a shared report: the
 * summary numbers, the shot table (a shot inside a recording plays it) and the rally table.
 */

import { byId, el } from "./api.js";
import { formatClock, formatPercent, shotLabel } from "./format.js";

const PLAYER_NAMES = { near: "Near", far: "Far" };

export function fillSummary(report) {
  const summary = report.summary || {};
  const players = report.players || {};
  const distance = (side) =>
    players[side] && players[side].distance_m != null
      ? `${players[side].distance_m.toFixed(1)} m`
      : "–";
  const shots = report.shots || [];
  byId("summary-total-shots").textContent = String(summary.total_shots ?? shots.length);
  byId("summary-rallies").textContent = String(summary.rallies ?? (report.rallies || []).length);
  byId("summary-duration").textContent = formatClock((report.video || {}).duration || 0);
  byId("summary-distance-near").textContent = distance("near");
  byId("summary-distance-far").textContent = distance("far");
}

/**
 * @param {Array<object>} shots in table order
 * @param {import("./report-video.js").RecordingPlayer} player tells which shots were recorded
 * @param {(index: number) => void} seekToShot called with the row's index when clicked
 */
export function fillShotTable(shots, player, seekToShot) {
  const rows = shots.map((shot, index) => {
    const when = formatClock(shot.time, 1);
    const recorded = player.recordingAt(shot.time) >= 0;
    const row = el(
      "tr",
      { class: "shot-row", dataset: { time: shot.time, index, player: shot.player, recorded } },
      el(
        "td",
        {},
        recorded
          ? el("button", {
            type: "button",
            class: "seek link",
            text: when,
            "aria-label": `Play the ${shotLabel(shot.type).toLowerCase()} at ${when}`,
          })
          : el("span", { text: when, title: "Not recorded" }),
      ),
      el("td", { text: PLAYER_NAMES[shot.player] || shot.player }),
      el("td", { text: shotLabel(shot.type) }),
      el("td", { text: formatPercent(shot.confidence) }),
    );
    row.addEventListener("click", () => seekToShot(index));
    return row;
  });
  const body = byId("shot-table").tBodies[0];
  body.replaceChildren(...rows);
  if (!rows.length) body.append(el("tr", {}, el("td", { colSpan: 4, text: "No shots found." })));
}

export function fillRallyTable(rallies, fps) {
  const seconds = (frame) => frame / (fps || 30);
  const rows = rallies.map((rally, i) => {
    const start = rally.start_time ?? seconds(rally.start_frame);
    const end = rally.end_time ?? seconds(rally.end_frame);
    return el(
      "tr",
      { class: "rally-row" },
      el("td", { text: String(rally.rally_id ?? i + 1) }),
      el("td", { text: formatClock(start, 1) }),
      el("td", { text: formatClock(end, 1) }),
      el("td", { text: String(rally.shots) }),
      el("td", { text: `${(end - start).toFixed(1)} s` }),
    );
  });
  const body = byId("rally-table").tBodies[0];
  body.replaceChildren(...rows);
  if (!rows.length) body.append(el("tr", {}, el("td", { colSpan: 5, text: "No rallies found." })));
}

/** How many shots of each type, when the report does not say. */
export function countTypes(shots) {
  const counts = {};
  for (const shot of shots) counts[shot.type] = (counts[shot.type] || 0) + 1;
  return counts;
}
