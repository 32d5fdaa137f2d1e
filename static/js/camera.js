/**
 * The phone's camera for the capture page: opening it at a preset's frame rate with
 * messages people can act on, limiting what the WebRTC sender spends, and keeping the
 * screen on while streaming (a phone that dims and locks stops its camera).
 */

/** A camera that cannot be opened, with a message that says what to do about it. */
export class CameraError extends Error {
  constructor(message) {
    super(message);
    this.name = "CameraError";
  }
}

/**
 * Opens the back camera (when there is one) at up to fps frames per second, 720p ideally.
 * @param {number} fps
 * @returns {Promise<MediaStream>}
 */
export async function openCamera(fps) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new CameraError(
      window.isSecureContext
        ? "This browser cannot use the camera."
        : "The camera only works over HTTPS: open this page with an https:// address.",
    );
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      video: {
        facingMode: { ideal: "environment" },
        width: { ideal: 1280 },
        height: { ideal: 720 },
        frameRate: { ideal: fps, max: fps },
      },
      audio: false,
    });
  } catch (error) {
    const messages = {
      NotAllowedError: "The camera was not allowed. Allow it in the browser's site " +
        "settings, then try again.",
      NotFoundError: "No camera was found on this device.",
      NotReadableError: "The camera is in use by another app. Close it and try again.",
      OverconstrainedError: "The camera cannot film at this quality. Choose a lower one.",
    };
    throw new CameraError(
      messages[error.name] || `The camera could not be opened: ${error.message}`,
    );
  }
}

/** @param {MediaStream|null} stream its tracks are stopped (the camera light goes off) */
export function stopCamera(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}

/**
 * Caps the video sender at the preset's frame rate and bit rate, and asks it to keep the
 * picture's resolution when bandwidth is short. Best effort: a browser without encoding
 * parameters still streams, at its own rate.
 * @param {RTCRtpSender} sender
 * @param {{fps: number, kbps: number}} preset
 */
export async function limitSender(sender, { fps, kbps }) {
  const params = sender.getParameters();
  if (!params.encodings || !params.encodings.length) params.encodings = [{}];
  for (const encoding of params.encodings) {
    encoding.maxFramerate = fps;
    encoding.maxBitrate = kbps * 1000;
  }
  // The pose finder needs pixels on players far from the camera: by default the browser
  // halves the resolution while its bandwidth estimate ramps up (the first ~15 s).
  params.degradationPreference = "maintain-resolution";
  try {
    await sender.setParameters(params);
  } catch {
    delete params.degradationPreference; // not every browser takes it
    try {
      await sender.setParameters(params);
    } catch (error) {
      console.warn("could not limit the video sender", error);
    }
  }
}

/** Keeps the screen on while held; asks again when the page comes back into view. */
export class ScreenWakeLock {
  constructor() {
    this.sentinel = null;
    this.wanted = false;
    this._onVisible = () => {
      if (this.wanted && document.visibilityState === "visible") this._request();
    };
    document.addEventListener("visibilitychange", this._onVisible);
  }

  hold() {
    this.wanted = true;
    this._request();
  }

  release() {
    this.wanted = false;
    if (this.sentinel) this.sentinel.release().catch(() => {});
    this.sentinel = null;
  }

  async _request() {
    if (!("wakeLock" in navigator) || (this.sentinel && !this.sentinel.released)) return;
    try {
      this.sentinel = await navigator.wakeLock.request("screen");
    } catch {
      // Refused (battery saver, or no user gesture yet): the stream works, the screen may dim.
    }
  }
}
