/**
 * One WebRTC link to a live session, the phone's or a coach's: an RTCPeerConnection with a
 * "results" data channel, offered to the server once ICE gathering is complete (the server
 * does not trickle), kept alive with pings, and made again after a drop.
 *
 * Reconnecting: when the connection stays "disconnected" for DISCONNECT_GRACE_MS, goes
 * "failed", or the results channel closes before the session ended, a new peer connection
 * is offered after 1, 2, 4, 8, then every 10 s. The server replaces the old connection
 * with the new one and its analysis carries on. Errors that another try cannot fix (the
 * session is not live, the link is revoked) stop it instead.
 *
 * Events: "state" (detail {state, text, delay?, reason?}), "message" (detail: the server's
 * JSON message), "rtt" (detail: round trip in ms), "stopped" (detail: the error).
 */

const CHANNEL_LABEL = "results";
const PING_MS = 2000;
const DISCONNECT_GRACE_MS = 3000;
// Without STUN/TURN answers gathering can hang for long; what was found by then is sent.
const GATHER_TIMEOUT_MS = 5000;
// An answered offer whose channel is not open by then is tried again.
const OPEN_TIMEOUT_MS = 15000;
const MAX_BACKOFF_S = 10;
const STABLE_MS = 10000;

/** @typedef {"idle"|"connecting"|"connected"|"reconnecting"|"ended"|"stopped"|"closed"} State */

const STATE_TEXT = {
  idle: "Not connected",
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  ended: "The session has ended",
  stopped: "Disconnected",
  closed: "Closed",
};

/**
 * Whether a signalling error is final: a client error other than a timeout or rate limit.
 * Network failures (status 0) and server errors are worth another try.
 * @param {any} error
 */
export function isFinalError(error) {
  const status = error && error.status;
  return typeof status === "number" && status >= 400 && status < 500 &&
    status !== 408 && status !== 429;
}

export class LiveConnection extends EventTarget {
  /**
   * @param {object} options
   * @param {RTCIceServer[]} [options.iceServers] from the server's ice-servers endpoint
   * @param {(pc: RTCPeerConnection) => void|Promise<void>} options.prepare adds the tracks or
   *   transceivers to a new connection, before its offer is made
   * @param {(offer: {sdp: string, type: string}) => Promise<{sdp: string, type: string}>}
   *   options.exchange sends the offer to the server and returns its answer
   * @param {(pc: RTCPeerConnection) => void|Promise<void>} [options.answered] called once the
   *   answer is applied (e.g. to set the sender's encoding limits)
   * @param {(error: any) => boolean} [options.isFinal] whether an exchange error stops retrying
   */
  constructor({ iceServers = [], prepare, exchange, answered, isFinal = isFinalError }) {
    super();
    this.iceServers = iceServers;
    this.prepare = prepare;
    this.exchange = exchange;
    this.answered = answered;
    this.isFinal = isFinal;
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    /** @type {RTCDataChannel|null} */
    this.channel = null;
    /** @type {State} */
    this.state = "idle";
    this.attempt = 0;
    this._timers = new Set();
    this._downTimer = null;
    this._retryTimer = null;
    this._pinger = null;
    this._everConnected = false;
  }

  /** Connects (again, if it had stopped). */
  start() {
    if (this.state === "closed" || this.state === "ended") return;
    this.attempt = 0;
    this._connect();
  }

  /** Closes the connection for good; nothing is retried after this. */
  close() {
    this._teardown();
    this._setState("closed");
  }

  /**
   * Sends a JSON message on the results channel if it is open.
   * @returns {boolean} whether it was sent
   */
  send(message) {
    if (!this.channel || this.channel.readyState !== "open") return false;
    this.channel.send(JSON.stringify(message));
    return true;
  }

  get finished() {
    return this.state === "closed" || this.state === "ended" || this.state === "stopped";
  }

  async _connect() {
    this._teardown();
    this._setState(this._everConnected ? "reconnecting" : "connecting");
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    const channel = pc.createDataChannel(CHANNEL_LABEL);
    this.pc = pc;
    this.channel = channel;
    const current = () => this.pc === pc && !this.finished;
    channel.addEventListener("open", () => current() && this._opened());
    channel.addEventListener("message", (event) => current() && this._message(event.data));
    channel.addEventListener("close", () => {
      if (current()) this._lost("the results channel closed");
    });
    pc.addEventListener("connectionstatechange", () => {
      if (current()) this._connectionState(pc.connectionState);
    });
    try {
      await this.prepare(pc);
      await pc.setLocalDescription(await pc.createOffer());
      await gatheringComplete(pc, GATHER_TIMEOUT_MS);
      if (!current()) return;
      const answer = await this.exchange({ sdp: pc.localDescription.sdp, type: "offer" });
      if (!current()) return;
      await pc.setRemoteDescription(answer);
      if (this.answered) await this.answered(pc);
      this._later(OPEN_TIMEOUT_MS, () => {
        if (current() && channel.readyState !== "open") this._lost("the connection timed out");
      });
    } catch (error) {
      if (!current()) return;
      if (this.isFinal(error)) this._stop(error);
      else this._lost(error && error.message ? error.message : String(error));
    }
  }

  _opened() {
    // The backoff starts over only once a connection has held: one that opens and drops
    // straight away must not be retried every second.
    this._later(STABLE_MS, () => (this.attempt = 0));
    this._everConnected = true;
    this._setState("connected");
    this._ping();
    this._pinger = setInterval(() => this._ping(), PING_MS);
  }

  _connectionState(state) {
    if (state === "connected") {
      clearTimeout(this._downTimer);
      this._downTimer = null;
      if (this.channel && this.channel.readyState === "open") this._setState("connected");
    } else if (state === "failed") {
      this._lost("the connection failed");
    } else if (state === "disconnected" && !this._downTimer) {
      // Often a short blip (a phone between networks) that ICE repairs by itself.
      this._downTimer = setTimeout(() => {
        this._downTimer = null;
        if (this.pc && this.pc.connectionState !== "connected") {
          this._lost("the connection dropped");
        }
      }, DISCONNECT_GRACE_MS);
    }
  }

  _message(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return; // The server only sends JSON; anything else is not for this page.
    }
    if (message.type === "pong") {
      if (typeof message.t === "number") {
        this.dispatchEvent(new CustomEvent("rtt", { detail: performance.now() - message.t }));
      }
      return;
    }
    this.dispatchEvent(new CustomEvent("message", { detail: message }));
    if (message.type === "session_ended") {
      // The server closes the connection next: that must not look like a drop.
      this._teardown();
      this._setState("ended");
    }
  }

  _ping() {
    this.send({ type: "ping", t: performance.now() });
  }

  /** Schedules the next try, with a growing delay, unless one is already scheduled. */
  _lost(reason) {
    if (this.finished || this._retryTimer) return;
    this._teardown();
    const delay = Math.min(MAX_BACKOFF_S, 2 ** this.attempt);
    this.attempt += 1;
    this._setState("reconnecting", { delay, reason });
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      if (!this.finished) this._connect();
    }, delay * 1000);
  }

  _stop(error) {
    this._teardown();
    this._setState("stopped", { reason: error && error.message });
    this.dispatchEvent(new CustomEvent("stopped", { detail: error }));
  }

  _later(ms, fn) {
    const timer = setTimeout(() => {
      this._timers.delete(timer);
      fn();
    }, ms);
    this._timers.add(timer);
  }

  /** Closes the current connection and cancels every timer. */
  _teardown() {
    for (const timer of this._timers) clearTimeout(timer);
    this._timers.clear();
    clearTimeout(this._downTimer);
    clearTimeout(this._retryTimer);
    clearInterval(this._pinger);
    this._downTimer = this._retryTimer = this._pinger = null;
    const { pc, channel } = this;
    this.pc = this.channel = null;
    if (channel) channel.close();
    if (pc) pc.close();
  }

  _setState(state, extra = {}) {
    this.state = state;
    let text = STATE_TEXT[state];
    if (state === "reconnecting" && extra.delay) {
      text = `Reconnecting… (next try in ${extra.delay} s)`;
    }
    this.dispatchEvent(new CustomEvent("state", { detail: { state, text, ...extra } }));
  }
}

/**
 * Resolves once the connection has gathered its ICE candidates, or after timeoutMs.
 * @param {RTCPeerConnection} pc
 * @param {number} timeoutMs
 */
export function gatheringComplete(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}
