/**
 * The JSON API client: bearer token from localStorage, server errors thrown as ApiError,
 * and a trip to the sign-in page when the token is missing or no longer accepted.
 */

export const API_PREFIX = "/api/v1";
const TOKEN_KEY = "badminton.token";
const SIGN_IN_PAGE = "/static/login.html";

/** An HTTP error from the API, carrying the server's own "error" message. */
export class ApiError extends Error {
  /**
   * @param {string} message the server's "error" text (or a generic one)
   * @param {number} status HTTP status, 0 when the server could not be reached
   * @param {unknown} [detail] the server's "detail" field
   */
  constructor(message, status, detail = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

/** @returns {string|null} the stored bearer token */
export function getToken() {
  return localStorage.getItem(TOKEN_KEY);
}

/** @param {string} token */
export function setToken(token) {
  localStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  localStorage.removeItem(TOKEN_KEY);
}

/** Sends the browser to the sign-in page, asking it to come back here afterwards. */
export function redirectToSignIn() {
  const here = location.pathname + location.search;
  location.assign(`${SIGN_IN_PAGE}?next=${encodeURIComponent(here)}`);
}

/** Redirects to sign-in when no token is stored; returns whether one is. */
export function requireSignIn() {
  if (getToken()) return true;
  redirectToSignIn();
  return false;
}

/**
 * Calls the API and returns its JSON body (null for 204).
 * @param {string} path below the prefix, e.g. "/jobs"
 * @param {{method?: string, body?: unknown, signal?: AbortSignal, auth?: boolean}} [options]
 *   body: sent as JSON, or as it is with its own type when a Blob (e.g. a picture)
 * @returns {Promise<any>}
 */
export async function api(path, { method = "GET", body, signal, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  const raw = body instanceof Blob;
  if (body !== undefined) headers["Content-Type"] = raw ? body.type : "application/json";
  let response;
  try {
    response = await fetch(API_PREFIX + path, {
      method,
      headers,
      body: body === undefined || raw ? body : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError("Cannot reach the server. Check your connection.", 0);
  }
  if (response.status === 401 && auth) {
    // The token expired or was revoked: nothing on this page can work without a new one.
    clearToken();
    redirectToSignIn();
  }
  if (!response.ok) {
    const payload = await response.json().catch(() => null);
    const message = (payload && payload.error) || `${response.status} ${response.statusText}`;
    throw new ApiError(message, response.status, payload ? payload.detail : null);
  }
  if (response.status === 204) return null;
  return response.json();
}

/** Signs out on the server (best effort), forgets the token and goes to sign-in. */
export async function signOut() {
  try {
    if (getToken()) await api("/auth/logout", { method: "POST", auth: true });
  } catch {
    // The token is dropped locally either way; a failed revoke must not trap the user.
  }
  clearToken();
  location.assign(SIGN_IN_PAGE);
}

/**
 * Shows a message in an error box (role="alert"), or hides the box when message is empty.
 * @param {HTMLElement} box
 * @param {string|Error|null} message
 */
export function showError(box, message) {
  const text = message instanceof Error ? message.message : message || "";
  box.textContent = text;
  box.hidden = !text;
}

/**
 * Shorthand for document.getElementById that fails loudly on a missing id.
 * @param {string} id
 * @returns {any}
 */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`page has no element #${id}`);
  return element;
}

/**
 * Creates an element with attributes/properties and children.
 * @param {string} tag
 * @param {Record<string, any>} [props] "class", "dataset", "text" and any property or attribute
 * @param {...(Node|string|null)} children
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null) element.append(child);
  return element;
}
