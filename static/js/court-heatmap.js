/**
 * A player's occupancy heatmap on a top-down court, drawn on a <canvas> and fed one court
 * position at a time: the live pages add every position_update, the final report adds a
 * report's positions all at once. It looks like the server's heatmap PNGs: dark run-off,
 * green court, an inferno colour ramp that stays transparent where the player rarely was.
 */

import { COURT, courtSegments } from "./report-charts.js";

const MARGIN_M = 1; // run-off drawn around the court, as in the server's PNGs
const CELL_M = 0.2;
const COLS = Math.ceil((COURT.width + 2 * MARGIN_M) / CELL_M);
const ROWS = Math.ceil((COURT.length + 2 * MARGIN_M) / CELL_M);
const RUN_OFF = "#265c34";
const SURFACE = "#32804a";
const LINE = "#fafafa";
const NET = "#cdcdcd";
// Stops of matplotlib's "inferno", the server's colour map.
const INFERNO = [
  [0, 0, 4],
  [87, 16, 110],
  [188, 55, 84],
  [249, 142, 9],
  [252, 255, 164],
];
const MAX_ALPHA = 0.85;
// Below FADE_START of the peak the court shows through; the colour fades in up to FADE_END.
const FADE_START = 0.03;
const FADE_END = 0.3;
// Separable blur weights (about a 0.35 m Gaussian at 0.2 m cells), as the PNGs smooth too.
const KERNEL = [0.06, 0.24, 0.4, 0.24, 0.06];

export class CourtHeatmap {
  /**
   * @param {HTMLCanvasElement} canvas drawn at its CSS width; its height follows the court
   * @param {{color?: string}} [options] color: of the dot marking the newest position
   */
  constructor(canvas, { color = "#fff" } = {}) {
    this.canvas = canvas;
    this.color = color;
    this.counts = new Float32Array(COLS * ROWS);
    this.total = 0;
    /** @type {number[]|null} the newest position in metres */
    this.last = null;
    this._pending = false;
    canvas.style.aspectRatio = `${COLS} / ${ROWS}`;
    this._resize = new ResizeObserver(() => this.draw());
    this._resize.observe(canvas);
  }

  /**
   * Counts a court position (metres); positions beyond the run-off are left out.
   * @param {number} x across the court, 0..6.10
   * @param {number} y from the far end, 0..13.40
   */
  add(x, y) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    const col = Math.floor((x + MARGIN_M) / CELL_M);
    const row = Math.floor((y + MARGIN_M) / CELL_M);
    if (col < 0 || row < 0 || col >= COLS || row >= ROWS) return;
    this.counts[row * COLS + col] += 1;
    this.total += 1;
    this.last = [x, y];
    this.scheduleDraw();
  }

  /** @param {Array<number[]>} positions a report's [frame, x, y] rows */
  addReportPositions(positions) {
    for (const [, x, y] of positions || []) this.add(x, y);
  }

  clear() {
    this.counts.fill(0);
    this.total = 0;
    this.last = null;
    this.scheduleDraw();
  }

  /** Stops following the canvas's size (the canvas keeps its last drawing). */
  destroy() {
    this._resize.disconnect();
  }

  /** Draws on the next animation frame: many positions per frame cost one drawing. */
  scheduleDraw() {
    if (this._pending) return;
    this._pending = true;
    requestAnimationFrame(() => {
      this._pending = false;
      this.draw();
    });
  }

  draw() {
    const canvas = this.canvas;
    const cssWidth = canvas.clientWidth;
    if (!cssWidth) return; // hidden: drawn again when the observer sees it shown
    const ratio = window.devicePixelRatio || 1;
    const scale = cssWidth / (COLS * CELL_M); // CSS pixels per metre
    canvas.width = Math.round(cssWidth * ratio);
    canvas.height = Math.round(ROWS * CELL_M * scale * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio * scale, 0, 0, ratio * scale, MARGIN_M * ratio * scale,
      MARGIN_M * ratio * scale);
    ctx.fillStyle = RUN_OFF;
    ctx.fillRect(-MARGIN_M, -MARGIN_M, COLS * CELL_M, ROWS * CELL_M);
    ctx.fillStyle = SURFACE;
    ctx.fillRect(0, 0, COURT.width, COURT.length);
    this._drawHeat(ctx);
    drawLines(ctx);
    if (this.last) {
      ctx.beginPath();
      ctx.arc(this.last[0], this.last[1], 0.22, 0, Math.PI * 2);
      ctx.fillStyle = this.color;
      ctx.fill();
      ctx.lineWidth = 0.06;
      ctx.strokeStyle = "#fff";
      ctx.stroke();
    }
  }

  _drawHeat(ctx) {
    if (!this.total) return;
    const level = blur(this.counts);
    let peak = 0;
    for (const value of level) peak = Math.max(peak, value);
    if (!peak) return;
    for (let row = 0; row < ROWS; row += 1) {
      for (let col = 0; col < COLS; col += 1) {
        const v = level[row * COLS + col] / peak;
        if (v <= FADE_START) continue;
        const fade = Math.min(1, (v - FADE_START) / (FADE_END - FADE_START));
        const alpha = MAX_ALPHA * fade * fade * (3 - 2 * fade); // smoothstep
        const [r, g, b] = inferno(v);
        ctx.fillStyle = `rgba(${r}, ${g}, ${b}, ${alpha.toFixed(3)})`;
        // A hair wider than the cell: neighbouring cells must not leave seams between them.
        ctx.fillRect(col * CELL_M - MARGIN_M, row * CELL_M - MARGIN_M, CELL_M + 0.01,
          CELL_M + 0.01);
      }
    }
  }
}

function drawLines(ctx) {
  ctx.strokeStyle = LINE;
  ctx.lineWidth = 0.05;
  ctx.strokeRect(0, 0, COURT.width, COURT.length);
  ctx.beginPath();
  for (const [x1, y1, x2, y2] of courtSegments()) {
    ctx.moveTo(x1, y1);
    ctx.lineTo(x2, y2);
  }
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(0, COURT.length / 2);
  ctx.lineTo(COURT.width, COURT.length / 2);
  ctx.strokeStyle = NET;
  ctx.lineWidth = 0.09;
  ctx.stroke();
}

/** The counts smoothed by KERNEL along rows, then along columns. */
function blur(counts) {
  const half = (KERNEL.length - 1) / 2;
  const pass = (source, stepCol, stepRow) => {
    const out = new Float32Array(source.length);
    for (let row = 0; row < ROWS; row += 1) {
      for (let col = 0; col < COLS; col += 1) {
        let sum = 0;
        for (let k = -half; k <= half; k += 1) {
          const c = col + k * stepCol;
          const r = row + k * stepRow;
          if (c < 0 || r < 0 || c >= COLS || r >= ROWS) continue;
          sum += source[r * COLS + c] * KERNEL[k + half];
        }
        out[row * COLS + col] = sum;
      }
    }
    return out;
  };
  return pass(pass(counts, 1, 0), 0, 1);
}

/** @returns {number[]} the inferno colour of v in 0..1, as [r, g, b] */
function inferno(v) {
  const at = Math.max(0, Math.min(1, v)) * (INFERNO.length - 1);
  const i = Math.min(INFERNO.length - 2, Math.floor(at));
  const t = at - i;
  return INFERNO[i].map((c, k) => Math.round(c + (INFERNO[i + 1][k] - c) * t));
}
