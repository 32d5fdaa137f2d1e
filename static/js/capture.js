/**
 * The capture page (capture.html, and capture.html?session=<id> to come back to one): a
 * phone films the court and streams it to the server, which analyses it live.
 *
 * Steps: choose a quality and a name, open the camera and create the session; tap the
 * court's corners on the preview and save them; go live (WebRTC video plus a results data
 * channel); watch the numbers, record, share a viewer link; end the session and see its
 * report. A reload comes back to the same step, reconnecting a session that is streaming.
 */

import { ApiError, api, byId, el, showError } from "./api.js";
import { initAccount } from "./account.js";
import { CameraError, ScreenWakeLock, limitSender, openCamera, stopCamera } from "./camera.js";
import { CourtStep } from "./capture-court.js";
import { RecordingControl, ViewerLinkControl } from "./capture-tools.js";
import { formatBytes, formatDate } from "./format.js";
import { LiveConnection } from "./live-connection.js";
import { LivePanel } from "./live-panel.js";
import { renderFinalReport } from "./live-report.js";

const POLL_MS = 2000;
const STATUS_WORDS = { setup: "Not started", streaming: "Live", ended: "Ended" };

const errorBox = byId("live-error");
const video = byId("preview");
const wakeLock = new ScreenWakeLock();
const showProblem = (message) => showError(errorBox, message);

let presets = {};
/** @type {object|null} the session as the server last described it */
let session = null;
/** @type {MediaStream|null} */
let camera = null;
/** @type {CourtStep|null} */
let court = null;
/** @type {LiveConnection|null} */
let connection = null;
/** @type {LivePanel|null} */
let panel = null;
/** @type {RecordingControl|null} */
let recording = null;
/** @type {ViewerLinkControl|null} */
let viewerLink = null;
let pollTimer = null;
/** @type {Promise<void>|null} set once the session is being ended, by this page or not */
let ending = null;

const sessionPath = (suffix = "") => `/stream/${encodeURIComponent(session.id)}${suffix}`;

function describePreset(preset) {
  // kbps -> bytes per hour: * 1000 / 8 * 3600.
  const perHour = formatBytes(preset.kbps * 450_000);
  const rate = `${preset.fps} frames per second, about ${preset.kbps} kbps (${perHour} per hour).`;
  return preset.note ? `${rate} ${preset.note}` : rate;
}

async function loadPresets() {
  ({ presets } = await api("/stream/presets"));
  const select = byId("quality");
  select.replaceChildren(...Object.entries(presets).map(([key, preset]) =>
    el("option", {
      value: key,
      text: `${preset.label} · ${preset.fps} fps · ${preset.kbps} kbps`,
    })));
  select.value = "medium" in presets ? "medium" : Object.keys(presets)[0];
  const describe = () => (byId("quality-info").textContent = describePreset(presets[select.value]));
  select.addEventListener("change", describe);
  describe();
  byId("create-session").disabled = false;
}

async function listSessions() {
  const { sessions } = await api("/streams");
  byId("past-sessions").hidden = !sessions.length;
  byId("session-list").replaceChildren(...sessions.slice(0, 10).map((s) =>
    el("li", {},
      el("a", { href: `?session=${encodeURIComponent(s.id)}`, text: s.name || "Untitled session" }),
      el("span", { class: "hint", text: ` · ${formatDate(s.created_at)} · ` }),
      el("span", {
        class: `badge status-${s.status}`,
        text: STATUS_WORDS[s.status] || s.status,
      }))));
}

async function createSession() {
  const button = byId("create-session");
  const quality = byId("quality").value;
  button.disabled = true;
  showProblem("");
  try {
    camera = await openCamera(presets[quality].fps);
    session = await api("/stream/create", {
      method: "POST",
      body: { name: byId("session-name").value.trim(), quality },
    });
  } catch (error) {
    stopCamera(camera);
    camera = null;
    showProblem(error);
    button.disabled = false;
    return;
  }
  history.replaceState(null, "", `?session=${encodeURIComponent(session.id)}`);
  await showCamera();
}

/** Shows the camera step with the preview playing and its size known. */
async function showCamera() {
  byId("setup-step").hidden = true;
  byId("past-sessions").hidden = true;
  byId("camera-step").hidden = false;
  byId("capture-title").textContent = session.name || "Live session";
  video.srcObject = camera;
  if (!video.videoWidth) {
    await new Promise((resolve) => {
      video.addEventListener("loadedmetadata", resolve, { once: true });
    });
  }
  await video.play().catch(() => {});
  for (const track of camera.getVideoTracks()) {
    track.addEventListener("ended", () => {
      if (!ending) showProblem("The camera stopped (another app may have taken it).");
    });
  }
  if (!court) {
    court = new CourtStep(session.id, showProblem);
    court.addEventListener("change", () => {
      byId("start-stream").disabled = !court.ready || session.status !== "setup";
    });
    court.refresh();
    // A session that has its court already gets it back in carryOn().
    if (!session.court) court.detect();
  }
}

async function openCameraAgain() {
  byId("retry-camera").hidden = true;
  showProblem("");
  try {
    camera = await openCamera(session.fps);
  } catch (error) {
    showProblem(error);
    byId("retry-camera").hidden = false;
    return false;
  }
  await showCamera();
  return true;
}

async function startStream() {
  byId("start-stream").disabled = true;
  showProblem("");
  try {
    session = await api(sessionPath("/start"), { method: "POST" });
  } catch (error) {
    showProblem(`Could not go live: ${error.message}`);
    byId("start-stream").disabled = false;
    return;
  }
  await goLive();
}

/** Streams the camera and shows the live panel (also after a reload mid-session). */
async function goLive() {
  court.lock();
  byId("court-controls").hidden = true;
  byId("camera-title").textContent = "Camera";
  byId("live-step").hidden = false;
  panel = new LivePanel(byId("live-panel"), {
    chartsContainer: byId("live-charts"),
    onError: showProblem,
  });
  recording = new RecordingControl(session.id, showProblem);
  viewerLink = new ViewerLinkControl(session.id, showProblem);
  byId("end-session").addEventListener("click", () => endSession());
  wakeLock.hold();
  let iceServers = [];
  try {
    ({ iceServers } = await api("/ice-servers"));
  } catch {
    // Without STUN/TURN a connection on the same network still works.
  }
  const preset = presets[session.quality] || { fps: session.fps, kbps: 800 };
  connection = new LiveConnection({
    iceServers,
    prepare: (pc) => {
      for (const track of camera.getVideoTracks()) pc.addTrack(track, camera);
    },
    exchange: (offer) => api(sessionPath("/offer"), { method: "POST", body: offer }),
    answered: (pc) =>
      Promise.all(pc.getSenders().filter((s) => s.track).map((s) => limitSender(s, preset))),
  });
  connection.addEventListener("state", (event) => panel.setConnection(event.detail));
  connection.addEventListener("rtt", (event) => panel.showRtt(event.detail));
  connection.addEventListener("message", (event) => {
    panel.handle(event.detail);
    if (event.detail.type === "session_ended") sessionEnded();
  });
  connection.addEventListener("stopped", (event) => {
    showProblem(`The video connection stopped: ${event.detail.message}`);
  });
  connection.start();
  poll();
}

async function poll() {
  pollTimer = null;
  if (ending) return;
  try {
    session = await api(sessionPath("/status"));
    panel.showStatus(session.live);
    if (session.live) recording.sync(session.live.recording);
    // Ended because its server was lost: the connection's next offer continues it.
    if (session.status === "ended" && !session.resumable) {
      sessionEnded();
      return;
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      showProblem("This session no longer exists.");
      return;
    }
    // A missed poll is harmless; the connection state shows real trouble.
  }
  pollTimer = setTimeout(poll, POLL_MS);
}

/** Ends the session on the owner's request. */
async function endSession() {
  if (ending) return;
  const question = "End the session? The analysis stops and the final report is written.";
  if (!window.confirm(question)) return;
  const button = byId("end-session");
  button.disabled = true;
  button.textContent = "Ending… writing the report";
  await finish();
}

/** The session ended without this page asking (timeout, another device): show the report. */
function sessionEnded() {
  if (!ending) finish();
}

/** Asks for the final report (ending the session if it is not yet) and shows it. */
function finish() {
  ending = (async () => {
    clearTimeout(pollTimer);
    showProblem("");
    let report;
    try {
      report = await api(sessionPath("/end"), { method: "POST" });
    } catch (error) {
      showProblem(`Could not end the session: ${error.message}`);
      ending = null;
      const button = byId("end-session");
      button.disabled = false;
      button.textContent = "End session";
      return;
    }
    if (connection) connection.close();
    stopCamera(camera);
    wakeLock.release();
    for (const id of ["setup-step", "past-sessions", "camera-step", "live-step"]) {
      byId(id).hidden = true;
    }
    renderFinalReport(byId("final-report"), report);
    byId("final-report").append(el("p", {}, el("a", {
      id: "final-report-page",
      class: "button primary",
      href: `/static/report.html?live=${encodeURIComponent(session.id)}`,
      text: "Open the report with the video",
    })));
    await listRecordings(byId("final-report"));
    byId("final-report").hidden = false;
  })();
  return ending;
}

/** Links to every recording of the session, the one stopped by the end included. */
async function listRecordings(container) {
  let outputs;
  try {
    outputs = await api(sessionPath("/outputs"));
  } catch (error) {
    return; // the report is on screen; the links are extra
  }
  if (!outputs.recordings.length) return;
  const items = outputs.recordings.map((recording, i) =>
    el("li", {}, el("a", {
      href: recording.url, target: "_blank", rel: "noopener", text: `Recording ${i + 1}`,
    })));
  container.append(el("section", { class: "card stack", id: "final-recordings" },
    el("h3", { text: "Recordings" }), el("ul", {}, ...items)));
}

/** Comes back to a session after a reload, at the step it is at. */
async function resume(sessionId) {
  try {
    session = await api(`/stream/${encodeURIComponent(sessionId)}/status`);
  } catch (error) {
    const gone = error instanceof ApiError && error.status === 404;
    showProblem(gone ? "No such session: start a new one." : error);
    history.replaceState(null, "", location.pathname);
    listSessions().catch(() => {});
    return;
  }
  byId("capture-title").textContent = session.name || "Live session";
  if (session.status === "ended" && !session.resumable) {
    byId("setup-step").hidden = true;
    await finish();
    return;
  }
  if (await openCameraAgain()) {
    await carryOn();
  } else {
    byId("setup-step").hidden = true;
    byId("camera-step").hidden = false;
  }
}

/** With the camera open again: the saved court back on the preview, and live if it was. */
async function carryOn() {
  court.restore(session.court, session.frame_size);
  if (session.status === "streaming" || session.resumable) await goLive();
}

async function init() {
  if (!initAccount()) return;
  byId("create-session").addEventListener("click", createSession);
  byId("start-stream").addEventListener("click", startStream);
  byId("retry-camera").addEventListener("click", async () => {
    if (await openCameraAgain()) await carryOn();
  });
  window.addEventListener("pagehide", () => stopCamera(camera));
  try {
    await loadPresets();
  } catch (error) {
    showProblem(`Could not load the quality presets: ${error.message}`);
  }
  const sessionId = new URLSearchParams(location.search).get("session");
  if (sessionId) await resume(sessionId);
  else listSessions().catch(() => {});
}

init();
