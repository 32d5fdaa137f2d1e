/** The report's drawings, as plain SVG: the shot-type bar chart and the court diagram. */

import { SHOT_TYPES, formatClock, shotLabel } from "./format.js";

const SVG_NS = "http://www.w3.org/2000/svg";

/** Court size in metres and its lines (doubles court, as in the analysis). */
export const COURT = { width: 6.1, length: 13.4 };
const SINGLES_INSET = (6.1 - 5.18) / 2;
const SHORT_SERVICE_FROM_NET = 1.98;
const LONG_SERVICE_INSET = 0.76;
const PLAYER_COLORS = { near: "#d9480f", far: "#1864ab" };

function svgEl(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/**
 * The court's inner lines in metres, as [x1, y1, x2, y2]: singles side lines, short and
 * long service lines, and the centre line, which stops at the short service lines. The
 * outer boundary and the net are left to the caller.
 * @returns {number[][]}
 */
export function courtSegments() {
  const { width, length } = COURT;
  const net = length / 2;
  const acrossAt = [
    net - SHORT_SERVICE_FROM_NET,
    net + SHORT_SERVICE_FROM_NET,
    LONG_SERVICE_INSET,
    length - LONG_SERVICE_INSET,
  ];
  return [
    [SINGLES_INSET, 0, SINGLES_INSET, length],
    [width - SINGLES_INSET, 0, width - SINGLES_INSET, length],
    ...acrossAt.map((y) => [0, y, width, y]),
    [width / 2, 0, width / 2, net - SHORT_SERVICE_FROM_NET],
    [width / 2, net + SHORT_SERVICE_FROM_NET, width / 2, length],
  ];
}

/**
 * Draws a horizontal bar per shot type (all nine, then any other type the report names).
 * @param {SVGSVGElement} svg emptied first
 * @param {Record<string, number>} distribution shot type -> count
 */
export function drawShotChart(svg, distribution) {
  const others = Object.keys(distribution).filter((t) => !SHOT_TYPES.includes(t));
  const types = [...SHOT_TYPES, ...others];
  const rowHeight = 26;
  const labelWidth = 96;
  const barSpace = 190;
  const width = labelWidth + barSpace + 34;
  const height = types.length * rowHeight + 4;
  const max = Math.max(1, ...types.map((t) => distribution[t] || 0));
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "chart");
  const spoken = types.map((t) => `${shotLabel(t)} ${distribution[t] || 0}`).join(", ");
  svg.append(svgEl("desc", {}, `Shots by type: ${spoken}.`));
  types.forEach((type, i) => {
    const count = distribution[type] || 0;
    const y = i * rowHeight + 4;
    const bar = (count / max) * barSpace;
    const group = svgEl("g", { "data-type": type, "data-count": count, class: "bar" });
    group.append(
      svgEl("text", { x: labelWidth - 8, y: y + 15, "text-anchor": "end" }, shotLabel(type)),
      svgEl("rect", {
        x: labelWidth,
        y: y + 2,
        width: Math.max(bar, 0.5),
        height: rowHeight - 8,
        rx: 3,
      }),
      svgEl("text", { x: labelWidth + bar + 6, y: y + 15, class: "count" }, String(count)),
    );
    svg.append(group);
  });
}

/**
 * Draws the court from above (far end at the top, camera at the bottom) with a dot per
 * shot at its court position; shots without a position are left out.
 * @param {SVGSVGElement} svg emptied first
 * @param {Array<{time: number, player: string, type: string, court_xy: number[]|null}>} shots
 * @param {(index: number) => void} [onPick] called with the shot's index when a dot is chosen
 */
export function drawCourt(svg, shots, onPick) {
  const margin = 0.4;
  const { width, length } = COURT;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `${-margin} ${-margin} ${width + 2 * margin} ${length + 2 * margin}`);
  svg.setAttribute("class", "court");
  svg.append(svgEl("rect", { x: 0, y: 0, width, height: length, class: "court-floor" }));
  const lines = svgEl("g", { class: "court-lines" });
  const net = length / 2;
  lines.append(svgEl("rect", { x: 0, y: 0, width, height: length, fill: "none" }));
  for (const [x1, y1, x2, y2] of courtSegments()) {
    lines.append(svgEl("line", { x1, y1, x2, y2 }));
  }
  svg.append(lines);
  svg.append(svgEl("line", { x1: -0.2, y1: net, x2: width + 0.2, y2: net, class: "court-net" }));
  shots.forEach((shot, index) => {
    if (!Array.isArray(shot.court_xy)) return;
    const [x, y] = shot.court_xy;
    const dot = svgEl("circle", {
      cx: x,
      cy: y,
      r: 0.17,
      fill: PLAYER_COLORS[shot.player] || "#555",
      class: "shot-dot",
      "data-index": index,
      "data-player": shot.player,
      tabindex: onPick ? 0 : -1,
    });
    const name = `${formatClock(shot.time, 1)} ${shot.player} ${shotLabel(shot.type)}`;
    dot.append(svgEl("title", {}, name));
    if (onPick) {
      dot.addEventListener("click", () => onPick(index));
      dot.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          onPick(index);
        }
      });
    }
    svg.append(dot);
  });
}
