/**
 * The live numbers both live pages show: connection state, frame rates, latency, round
 * trip, shots, rally, the last shot, the shot-type chart and a heatmap per player. It is
 * fed by the data channel's messages (handle) and by the polled session status (showStatus).
 *
 * Element ids (stable, for tests): #conn-state, #stat-fps, #stat-latency, #stat-rtt,
 * #total-shots, #current-rally, #last-shot, #shot-chart, #heatmap-near, #heatmap-far.
 */

import { el } from "./api.js";
import { CourtHeatmap } from "./court-heatmap.js";
import { formatClock, formatPercent, shotLabel } from "./format.js";
import { drawShotChart } from "./report-charts.js";

const PLAYERS = { near: "Near player", far: "Far player" };
const PLAYER_COLORS = { near: "#d9480f", far: "#1864ab" };
// The last-shot card is highlighted this long after a shot, so a glance catches it.
const FRESH_SHOT_MS = 2500;
// Shots kept to fall back on when the last one is withdrawn.
const RECENT_SHOTS = 20;

/** Fills a <dl class="summary"> row: a label and a value with an id. */
function stat(label, id, value = "–") {
  return el("div", {}, el("dt", { text: label }), el("dd", { id, text: value }));
}

export class LivePanel {
  /**
   * Builds the panel inside container (emptied first).
   * @param {HTMLElement} container
   * @param {{chartsContainer?: HTMLElement, onError?: (message: string) => void}} [options]
   *   chartsContainer: where the shot chart and heatmaps go (emptied first; default: after
   *   the numbers in container); onError: shows a server error (the "error" messages)
   */
  constructor(container, { chartsContainer = null, onError = () => {} } = {}) {
    this.onError = onError;
    this.distribution = {};
    this.totalShots = 0;
    this.lastShotTime = null;
    this.lastShotId = null;
    // Recent shots by id: a shot already shown may be revised or withdrawn later.
    this.recentShots = new Map();
    this._freshTimer = null;
    this.connState = el("span", {
      id: "conn-state",
      class: "badge conn-idle",
      role: "status",
      text: "Not connected",
    });
    this.lastShot = el("p", { id: "last-shot", class: "last-shot", "aria-live": "polite" },
      el("span", { class: "last-shot-type", text: "No shot yet" }),
      el("span", { class: "last-shot-meta hint" }));
    this.chart = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    this.chart.id = "shot-chart";
    this.chart.setAttribute("role", "img");
    this.chart.setAttribute("aria-labelledby", "live-chart-title");
    const heatmapFigure = (side) =>
      el("figure", {},
        el("canvas", {
          id: `heatmap-${side}`,
          class: "heatmap",
          role: "img",
          "aria-label": `Where the ${PLAYERS[side].toLowerCase()} has stood`,
        }),
        el("figcaption", { id: `heatmap-${side}-caption`, text: PLAYERS[side] }));
    const charts = el("div", { class: "columns" },
      el("section", { class: "card column", "aria-labelledby": "live-chart-title" },
        el("h2", { id: "live-chart-title", text: "Shot types" }), this.chart),
      el("section", { class: "card column", "aria-labelledby": "live-heatmaps-title" },
        el("h2", { id: "live-heatmaps-title", text: "Where the players stand" }),
        el("div", { class: "heatmaps" }, heatmapFigure("near"), heatmapFigure("far"))));
    container.replaceChildren(
      el("div", { class: "live-bar" }, this.connState,
        el("span", { id: "live-viewers", class: "hint" }),
        el("span", {
          id: "live-recording",
          class: "badge rec",
          text: "● Recording",
          hidden: true,
        })),
      el("dl", { class: "summary live-stats", dataset: { testid: "live-stats" } },
        stat("Shots", "total-shots", "0"),
        stat("Rally", "current-rally"),
        stat("Frames/s in / analysed", "stat-fps"),
        stat("Latency p50 / p95", "stat-latency"),
        stat("Round trip", "stat-rtt")),
      el("section", { class: "card", "aria-labelledby": "last-shot-title" },
        el("h2", { id: "last-shot-title", text: "Last shot" }), this.lastShot),
    );
    if (chartsContainer) chartsContainer.replaceChildren(charts);
    else container.append(charts);
    this.heatmaps = {
      near: new CourtHeatmap(charts.querySelector("#heatmap-near"), { color: PLAYER_COLORS.near }),
      far: new CourtHeatmap(charts.querySelector("#heatmap-far"), { color: PLAYER_COLORS.far }),
    };
    drawShotChart(this.chart, {});
    for (const heatmap of Object.values(this.heatmaps)) heatmap.draw();
  }

  /** @param {{state: string, text: string}} detail a LiveConnection "state" event's detail */
  setConnection({ state, text }) {
    this.connState.textContent = text;
    this.connState.className = `badge conn-${state}`;
    this.connState.dataset.state = state;
  }

  /** @param {number} ms the data channel's round trip */
  showRtt(ms) {
    setText("stat-rtt", `${Math.round(ms)} ms`);
  }

  /**
   * Shows the server's view of the live session (the status endpoint's "live" object).
   * @param {object|null} live null when the session is not live
   */
  showStatus(live) {
    if (!live) return;
    const fps = live.fps || {};
    setText("stat-fps", `${formatRate(fps.received)} / ${formatRate(fps.analysed)}`);
    const latency = live.latency_ms || {};
    setText("stat-latency", latency.p50 == null
      ? "–"
      : `${Math.round(latency.p50)} / ${Math.round(latency.p95)} ms`);
    const viewers = live.viewers || 0;
    setText("live-viewers", viewers ? `${viewers} watching` : "");
    document.getElementById("live-recording").hidden = !live.recording;
    // The data channel is quicker, but after a reconnect or a missed message the polled
    // numbers catch up.
    if ((live.total_shots ?? 0) >= this.totalShots) {
      this._showTotals(live.total_shots ?? 0, live.current_rally, live.shot_distribution);
    }
    if (live.last_shot && (this.lastShotTime == null ||
        live.last_shot.timestamp > this.lastShotTime)) {
      this._showShot(live.last_shot, false);
    }
  }

  /** @param {object} message one data channel message from the server */
  handle(message) {
    switch (message.type) {
      case "position_update": {
        const heatmap = this.heatmaps[message.player];
        if (heatmap) heatmap.add(message.x, message.y);
        break;
      }
      case "shot_detected":
        this._remember(message);
        this._showShot(message, true);
        break;
      case "shot_updated":
        this._remember(message);
        if (message.shot_id === this.lastShotId) this._showShot(message, false);
        break;
      case "shot_removed":
        this.recentShots.delete(message.shot_id);
        if (message.shot_id === this.lastShotId) this._showLatestShot();
        break;
      case "stats_update":
        this._showTotals(message.total_shots, message.current_rally, message.shot_distribution);
        this._showDistances(message.distance_m || {});
        break;
      case "rally_start":
        setText("current-rally", String(message.rally_id));
        break;
      case "error":
        this.onError(message.message || "The analysis reported an error.");
        break;
      default:
        break;
    }
  }

  _remember(shot) {
    this.recentShots.set(shot.shot_id, shot);
    while (this.recentShots.size > RECENT_SHOTS) {
      this.recentShots.delete(this.recentShots.keys().next().value);
    }
  }

  /** After the last shot was withdrawn: the latest one left, or none. */
  _showLatestShot() {
    let latest = null;
    for (const shot of this.recentShots.values()) {
      if (!latest || shot.timestamp > latest.timestamp) latest = shot;
    }
    if (latest) {
      this._showShot(latest, false);
      return;
    }
    this.lastShotTime = null;
    this.lastShotId = null;
    const [type, meta] = this.lastShot.children;
    type.textContent = "No shot yet";
    meta.textContent = "";
    this.lastShot.dataset.shot = "";
    this.lastShot.dataset.player = "";
  }

  _showTotals(total, rally, distribution) {
    this.totalShots = total ?? this.totalShots;
    setText("total-shots", String(this.totalShots));
    if (rally) setText("current-rally", String(rally));
    if (distribution && !sameCounts(distribution, this.distribution)) {
      this.distribution = { ...distribution };
      drawShotChart(this.chart, this.distribution);
    }
  }

  _showDistances(distance) {
    for (const side of Object.keys(PLAYERS)) {
      const metres = distance[side];
      setText(`heatmap-${side}-caption`,
        metres == null ? PLAYERS[side] : `${PLAYERS[side]} · ${metres.toFixed(1)} m`);
    }
  }

  _showShot(shot, fresh) {
    this.lastShotTime = shot.timestamp;
    this.lastShotId = shot.shot_id ?? null;
    const [type, meta] = this.lastShot.children;
    type.textContent = shotLabel(shot.shot || shot.type || "shot");
    const who = PLAYERS[shot.player] || shot.player || "";
    const parts = [who, formatPercent(shot.confidence)];
    if (shot.rally_id) parts.push(`rally ${shot.rally_id}`);
    if (shot.timestamp != null) parts.push(formatClock(shot.timestamp, 1));
    meta.textContent = parts.filter(Boolean).join(" · ");
    this.lastShot.dataset.shot = shot.shot || shot.type || "";
    this.lastShot.dataset.player = shot.player || "";
    if (!fresh) return;
    this.lastShot.classList.add("fresh");
    clearTimeout(this._freshTimer);
    this._freshTimer = setTimeout(() => this.lastShot.classList.remove("fresh"), FRESH_SHOT_MS);
  }
}

function setText(id, text) {
  const node = document.getElementById(id);
  if (node && node.textContent !== text) node.textContent = text;
}

function formatRate(value) {
  return typeof value === "number" ? value.toFixed(1) : "–";
}

function sameCounts(a, b) {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if ((a[key] || 0) !== (b[key] || 0)) return false;
  return true;
}
