/* What the page scripts share (docs/architecture.md, "Front end"): JSON over fetch with the
 * session's CSRF token and the API's error envelope {"error": {"code", "message", "details"}},
 * and the one DOM builder the live pages use. Every page script imports what it needs from here;
 * nothing is put on window.
 */

/** An HTTP answer that was not 2xx: status, Retry-After (seconds, or null) and the envelope's parts. */
export class HttpError extends Error {
  constructor(status, body, retryAfter) {
    const error = (body && body.error) || {};
    super(error.message || `The server answered ${status}.`);
    this.name = "HttpError";
    this.status = status;
    this.code = error.code || "";
    this.details = error.details || null;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

/** The CSRF token of the form inside root (Django's {% csrf_token %}), or "". */
export function csrfToken(root = document) {
  const input = root.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

function retryAfterOf(response) {
  const retry = parseInt(response.headers.get("Retry-After") || "", 10);
  return Number.isNaN(retry) ? null : retry;
}

/**
 * Send (or GET) JSON and read the JSON answer. Resolves with the answer's body (null when it has
 * none); rejects with an HttpError carrying the error envelope's message when the answer is not
 * 2xx, or with the fetch's own TypeError when the server could not be reached.
 */
export async function requestJSON(url, { method = "GET", body, csrf = "", headers = {} } = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  if (csrf) sent["X-CSRFToken"] = csrf;
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: sent,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    /* no body, or not JSON */
  }
  if (!response.ok) throw new HttpError(response.status, answer, retryAfterOf(response));
  return answer;
}

/** GET a JSON document the way the live pollers need it (static/js/live.js): rejects with an HttpError. */
export function getJSON(url) {
  return requestJSON(url);
}

/** A new element with attributes (null/undefined ones left out) and text. */
export function el(tag, attrs, text) {
  const node = document.createElement(tag);
  Object.keys(attrs || {}).forEach((key) => {
    if (attrs[key] !== null && attrs[key] !== undefined) node.setAttribute(key, attrs[key]);
  });
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}
