/**
 * A live session's final report, shown on the page that ended it: the summary, shot-type
 * chart, court diagram of the shots, heatmaps drawn from the players' positions, the rally
 * and shot tables, and the report JSON to download.
 *
 * Element ids (stable, for tests): #final-total-shots, #final-rallies, #final-duration,
 * #final-shot-chart, #final-court, #final-heatmap-near, #final-heatmap-far,
 * #final-rally-table, #final-shot-table, #final-report-json.
 */

import { el } from "./api.js";
import { CourtHeatmap } from "./court-heatmap.js";
import { formatClock, formatPercent, shotLabel } from "./format.js";
import { drawCourt, drawShotChart } from "./report-charts.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const PLAYERS = { near: "Near", far: "Far" };
const PLAYER_COLORS = { near: "#d9480f", far: "#1864ab" };

/**
 * Renders report into container (emptied first).
 * @param {HTMLElement} container
 * @param {object} report the end endpoint's answer: a report, or {report: null, reason}
 */
export function renderFinalReport(container, report) {
  const title = el("h2", { id: "final-report-title", text: "Final report" });
  if (!report || report.report === null || !Array.isArray(report.shots)) {
    const reason = (report && report.reason) || "nothing was analysed";
    container.replaceChildren(title, el("p", { class: "note", text: `No report: ${reason}.` }));
    return;
  }
  const shots = [...report.shots].sort((a, b) => a.time - b.time);
  const summary = report.summary || {};
  const chart = svg("final-shot-chart", "final-chart-title");
  const court = svg("final-court", "final-court-title");
  const heatmaps = el("div", { class: "heatmaps" }, ...["near", "far"].map((side) =>
    el("figure", {},
      el("canvas", {
        id: `final-heatmap-${side}`,
        class: "heatmap",
        role: "img",
        "aria-label": `Where the ${PLAYERS[side].toLowerCase()} player stood`,
      }),
      el("figcaption", { text: `${PLAYERS[side]} player` }))));
  const json = new Blob([JSON.stringify(report, null, 2)], { type: "application/json" });
  container.replaceChildren(
    title,
    summaryList(report, summary, shots),
    el("div", { class: "columns" },
      el("div", { class: "column" },
        el("section", { class: "card", "aria-labelledby": "final-chart-title" },
          el("h3", { id: "final-chart-title", text: "Shot types" }), chart),
        el("section", { class: "card", "aria-labelledby": "final-heatmaps-title" },
          el("h3", { id: "final-heatmaps-title", text: "Where the players stood" }), heatmaps)),
      el("div", { class: "column" },
        el("section", { class: "card", "aria-labelledby": "final-court-title" },
          el("h3", { id: "final-court-title", text: "Where the shots were played" }), court),
        tableCard("final-rally-table", "Rallies", ["Rally", "Start", "End", "Shots", "Duration"],
          rallyRows(report.rallies || [], (report.video || {}).fps), "No rallies found."),
        tableCard("final-shot-table", "Shots", ["Time", "Player", "Shot", "Confidence"],
          shotRows(shots), "No shots found."))),
    el("p", {}, el("a", {
      id: "final-report-json",
      href: URL.createObjectURL(json),
      download: "report.json",
      text: "Download the report (JSON)",
    })),
  );
  drawShotChart(chart, summary.shot_distribution || countTypes(shots));
  drawCourt(court, shots);
  for (const side of ["near", "far"]) {
    const heatmap = new CourtHeatmap(container.querySelector(`#final-heatmap-${side}`), {
      color: PLAYER_COLORS[side],
    });
    heatmap.addReportPositions(((report.players || {})[side] || {}).positions);
    heatmap.last = null; // a finished match has no "current" position
    heatmap.draw();
  }
}

function svg(id, labelledBy) {
  const node = document.createElementNS(SVG_NS, "svg");
  node.id = id;
  node.setAttribute("role", "img");
  node.setAttribute("aria-labelledby", labelledBy);
  return node;
}

function summaryList(report, summary, shots) {
  const players = report.players || {};
  const distance = (side) =>
    players[side] && players[side].distance_m != null
      ? `${players[side].distance_m.toFixed(1)} m`
      : "–";
  const item = (label, id, value) =>
    el("div", {}, el("dt", { text: label }), el("dd", { id, text: value }));
  return el("dl", { class: "summary", dataset: { testid: "final-summary" } },
    item("Shots", "final-total-shots", String(summary.total_shots ?? shots.length)),
    item("Rallies", "final-rallies", String(summary.rallies ?? (report.rallies || []).length)),
    item("Duration", "final-duration", formatClock((report.video || {}).duration || 0)),
    item("Near player ran", "final-distance-near", distance("near")),
    item("Far player ran", "final-distance-far", distance("far")));
}

function tableCard(id, title, headings, rows, empty) {
  const titleId = `${id}-title`;
  const body = el("tbody", {}, ...rows);
  if (!rows.length) body.append(el("tr", {}, el("td", { colSpan: headings.length, text: empty })));
  return el("section", { class: "card", "aria-labelledby": titleId },
    el("h3", { id: titleId, text: title }),
    el("div", { class: "table-scroll" },
      el("table", { id, "aria-labelledby": titleId },
        el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", { scope: "col", text: h })))),
        body)));
}

function rallyRows(rallies, fps) {
  const seconds = (frame) => frame / (fps || 30);
  return rallies.map((rally, i) => {
    const start = rally.start_time ?? seconds(rally.start_frame);
    const end = rally.end_time ?? seconds(rally.end_frame);
    return el("tr", { class: "rally-row" },
      el("td", { text: String(rally.rally_id ?? i + 1) }),
      el("td", { text: formatClock(start, 1) }),
      el("td", { text: formatClock(end, 1) }),
      el("td", { text: String(rally.shots) }),
      el("td", { text: `${(end - start).toFixed(1)} s` }));
  });
}

function shotRows(shots) {
  return shots.map((shot) =>
    el("tr", { class: "shot-row-static", dataset: { player: shot.player, type: shot.type } },
      el("td", { text: formatClock(shot.time, 1) }),
      el("td", { text: PLAYERS[shot.player] || shot.player }),
      el("td", { text: shotLabel(shot.type) }),
      el("td", { text: formatPercent(shot.confidence) })));
}

function countTypes(shots) {
  const counts = {};
  for (const shot of shots) counts[shot.type] = (counts[shot.type] || 0) + 1;
  return counts;
}
