/**
 * Marks the four outer doubles-court corners on a video or canvas by tapping on it.
 *
 * Corners are kept in the source's intrinsic pixels (videoWidth x videoHeight for a
 * <video>, width x height for a <canvas>), whatever size the element is shown at, so they
 * are the pixels the server's court JSON expects. A transparent canvas laid over the source
 * takes the taps and draws the corners and the court outline.
 */

/** Corner names in the order they are asked for. */
export const CORNERS = ["far_left", "far_right", "near_right", "near_left"];

/** How the prompts name each corner. */
export const CORNER_LABELS = {
  far_left: "far-left",
  far_right: "far-right",
  near_right: "near-right",
  near_left: "near-left",
};

// A tap closer than this (CSS pixels) to a placed corner grabs it instead of adding one:
// a fingertip's size, so corners can be nudged on a phone.
const GRAB_RADIUS = 22;
const COLORS = { line: "#ffd400", fill: "rgba(255, 212, 0, 0.18)", point: "#ff3b30" };

/**
 * Corner name -> [x, y] in intrinsic pixels.
 * @typedef {{far_left: number[], far_right: number[],
 *            near_right: number[], near_left: number[]}} Court
 */

export class CourtPicker extends EventTarget {
  /**
   * @param {HTMLVideoElement|HTMLCanvasElement} source shown inside a container of its own;
   *   the overlay is added to source.parentElement
   * @param {{label?: string}} [options] label: accessible name of the tap area
   */
  constructor(source, { label = "Court corner picker: tap each corner of the court" } = {}) {
    super();
    this.source = source;
    /** @type {number[][]} corners placed so far, intrinsic pixels, in CORNERS order */
    this.points = [];
    this.enabled = true;
    this._drag = -1;
    const container = source.parentElement;
    if (getComputedStyle(container).position === "static") container.style.position = "relative";
    this.overlay = document.createElement("canvas");
    this.overlay.className = "court-picker-overlay";
    this.overlay.setAttribute("role", "img");
    this.overlay.setAttribute("aria-label", label);
    this.overlay.dataset.testid = "court-picker";
    Object.assign(this.overlay.style, {
      position: "absolute",
      cursor: "crosshair",
      // Pinch-zoom stays available for precise taps; panning would fight with dragging.
      touchAction: "pinch-zoom",
    });
    container.append(this.overlay);
    this._onDown = (e) => this._pointerDown(e);
    this._onMove = (e) => this._pointerMove(e);
    this._onUp = (e) => this._pointerUp(e);
    this.overlay.addEventListener("pointerdown", this._onDown);
    this.overlay.addEventListener("pointermove", this._onMove);
    this.overlay.addEventListener("pointerup", this._onUp);
    this.overlay.addEventListener("pointercancel", this._onUp);
    this._resize = new ResizeObserver(() => this.redraw());
    this._resize.observe(source);
    this._onMedia = () => this.redraw();
    source.addEventListener("loadedmetadata", this._onMedia);
    this.redraw();
  }

  /** @returns {{width: number, height: number}} intrinsic size, zero until known */
  get intrinsicSize() {
    const s = this.source;
    if (s instanceof HTMLVideoElement) return { width: s.videoWidth, height: s.videoHeight };
    return { width: s.width, height: s.height };
  }

  /** @returns {string|null} the corner the next tap places, null when all four are placed */
  get nextCorner() {
    return this.points.length < CORNERS.length ? CORNERS[this.points.length] : null;
  }

  /** @returns {boolean} four corners placed and they form a court (convex, in order) */
  get complete() {
    return this.points.length === CORNERS.length && isConvexQuad(this.points);
  }

  /** @returns {string} what the user should do next, for a live region next to the picker */
  get prompt() {
    const next = this.nextCorner;
    if (next) {
      const n = this.points.length + 1;
      return `Tap the ${CORNER_LABELS[next]} corner of the court (${n} of 4).`;
    }
    if (!isConvexQuad(this.points)) {
      return "The corners cross over: undo and tap them in order far-left, far-right, " +
        "near-right, near-left.";
    }
    return "Court marked. Drag a corner to adjust it.";
  }

  /** @returns {Court|null} the court JSON, or null until complete */
  court() {
    if (!this.complete) return null;
    return Object.fromEntries(CORNERS.map((name, i) => [name, [...this.points[i]]]));
  }

  /** @param {Court|null} court corners to show (e.g. from an earlier pick), or null to clear */
  setCourt(court) {
    this.points = court ? CORNERS.map((name) => [...court[name]]) : [];
    this._changed();
  }

  undo() {
    this.points.pop();
    this._changed();
  }

  reset() {
    this.points = [];
    this._changed();
  }

  /** @param {boolean} enabled whether taps place or move corners */
  setEnabled(enabled) {
    this.enabled = enabled;
    this.overlay.style.cursor = enabled ? "crosshair" : "default";
  }

  /** Removes the overlay and its listeners; the source is left as it was. */
  destroy() {
    this._resize.disconnect();
    this.source.removeEventListener("loadedmetadata", this._onMedia);
    this.overlay.remove();
  }

  /**
   * Where the picture sits inside the element: object-fit "contain" (a video's default)
   * letterboxes it, "fill" (a canvas's default) stretches it.
   * @returns {{x: number, y: number, scaleX: number, scaleY: number}|null}
   */
  _layout() {
    const { width, height } = this.intrinsicSize;
    const boxW = this.source.clientWidth;
    const boxH = this.source.clientHeight;
    if (!width || !height || !boxW || !boxH) return null;
    if (getComputedStyle(this.source).objectFit === "fill") {
      return { x: 0, y: 0, scaleX: boxW / width, scaleY: boxH / height };
    }
    const scale = Math.min(boxW / width, boxH / height);
    return {
      x: (boxW - width * scale) / 2,
      y: (boxH - height * scale) / 2,
      scaleX: scale,
      scaleY: scale,
    };
  }

  /** @returns {number[]|null} the event's position in intrinsic pixels, null off the picture */
  _toSource(event) {
    const layout = this._layout();
    if (!layout) return null;
    const rect = this.overlay.getBoundingClientRect();
    const x = (event.clientX - rect.left - layout.x) / layout.scaleX;
    const y = (event.clientY - rect.top - layout.y) / layout.scaleY;
    const { width, height } = this.intrinsicSize;
    if (x < 0 || y < 0 || x > width || y > height) return null;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }

  /** @returns {number[]} a corner's position in the overlay's CSS pixels */
  _toDisplay(point, layout) {
    return [layout.x + point[0] * layout.scaleX, layout.y + point[1] * layout.scaleY];
  }

  _nearestPoint(event) {
    const layout = this._layout();
    if (!layout) return -1;
    const rect = this.overlay.getBoundingClientRect();
    let best = -1;
    let bestDistance = GRAB_RADIUS;
    this.points.forEach((point, i) => {
      const [x, y] = this._toDisplay(point, layout);
      const d = Math.hypot(event.clientX - rect.left - x, event.clientY - rect.top - y);
      if (d <= bestDistance) {
        best = i;
        bestDistance = d;
      }
    });
    return best;
  }

  _pointerDown(event) {
    if (!this.enabled || event.button > 0) return;
    const grabbed = this._nearestPoint(event);
    if (grabbed >= 0) {
      this._drag = grabbed;
      this.overlay.setPointerCapture(event.pointerId);
      event.preventDefault();
      return;
    }
    if (!this.nextCorner) return;
    const point = this._toSource(event);
    if (!point) return;
    event.preventDefault();
    this.points.push(point);
    this._changed();
  }

  _pointerMove(event) {
    if (this._drag < 0) return;
    const point = this._toSource(event);
    if (!point) return;
    this.points[this._drag] = point;
    this.redraw();
  }

  _pointerUp(event) {
    if (this._drag < 0) return;
    this._drag = -1;
    if (this.overlay.hasPointerCapture(event.pointerId)) {
      this.overlay.releasePointerCapture(event.pointerId);
    }
    this._changed();
  }

  _changed() {
    this.redraw();
    this.dispatchEvent(new CustomEvent("change", { detail: { court: this.court() } }));
  }

  /** Lays the overlay exactly over the source and draws the corners placed so far. */
  redraw() {
    const s = this.source;
    const ratio = window.devicePixelRatio || 1;
    Object.assign(this.overlay.style, {
      left: `${s.offsetLeft + s.clientLeft}px`,
      top: `${s.offsetTop + s.clientTop}px`,
      width: `${s.clientWidth}px`,
      height: `${s.clientHeight}px`,
    });
    this.overlay.width = Math.round(s.clientWidth * ratio);
    this.overlay.height = Math.round(s.clientHeight * ratio);
    const ctx = this.overlay.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, s.clientWidth, s.clientHeight);
    const layout = this._layout();
    if (!layout || !this.points.length) return;
    const shown = this.points.map((p) => this._toDisplay(p, layout));
    drawOutline(ctx, shown, this.points.length === CORNERS.length);
    shown.forEach(([x, y], i) => drawCorner(ctx, x, y, `${i + 1}`));
  }
}

function drawOutline(ctx, shown, closed) {
  ctx.beginPath();
  shown.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  if (closed) {
    ctx.closePath();
    ctx.fillStyle = COLORS.fill;
    ctx.fill();
  }
  ctx.lineWidth = 2;
  ctx.strokeStyle = COLORS.line;
  ctx.stroke();
}

function drawCorner(ctx, x, y, label) {
  ctx.beginPath();
  ctx.arc(x, y, 6, 0, Math.PI * 2);
  ctx.fillStyle = COLORS.point;
  ctx.fill();
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#fff";
  ctx.stroke();
  ctx.font = "bold 14px system-ui, sans-serif";
  ctx.lineWidth = 3;
  ctx.strokeStyle = "#000";
  ctx.strokeText(label, x + 9, y - 9);
  ctx.fillStyle = "#fff";
  ctx.fillText(label, x + 9, y - 9);
}

/**
 * Whether four points, in order, go round a convex quadrilateral (either direction): a
 * court tapped out of order crosses over itself and has no usable homography.
 * @param {number[][]} points
 */
export function isConvexQuad(points) {
  if (points.length !== 4) return false;
  let sign = 0;
  for (let i = 0; i < 4; i += 1) {
    const [ax, ay] = points[i];
    const [bx, by] = points[(i + 1) % 4];
    const [cx, cy] = points[(i + 2) % 4];
    const cross = (bx - ax) * (cy - by) - (by - ay) * (cx - bx);
    if (Math.abs(cross) < 1e-6) return false;
    if (sign === 0) sign = Math.sign(cross);
    else if (Math.sign(cross) !== sign) return false;
  }
  return true;
}
