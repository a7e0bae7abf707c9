/* Live status client shared by the order page and the dashboard (docs/live.md).
 *
 * open(options) keeps one stream going for the life of the page:
 *
 * - a WebSocket to options.wsPath (+ options.wsQuery(), e.g. "?after=41" so the server first
 *   sends what the page has not seen); a connection counts as working once its first message
 *   arrives (the server sends one at once);
 * - when it drops: reconnect after 1 s, 2 s, 4 s … up to 30 s, with jitter, so a restarted
 *   server is not hit by every browser in the same second; a message resets the delay;
 * - a heartbeat watchdog: the server sends something at least every 25 s; silence for 60 s
 *   means a half-open connection (laptop asleep, proxy gone), so reconnect;
 * - when WebSockets do not work here (no WebSocket, or two attempts in a row that never got a
 *   first message: a proxy that blocks them), fall back to options.poll() every few seconds,
 *   and try the WebSocket again every 60 s; the polling endpoints answer with the same
 *   ?after=<seq> rule, so switching loses and repeats nothing;
 * - close codes 4401/4403/4404 (and HTTP 401/403/404 while polling) mean "this will not get
 *   better by retrying": stop and say so.
 *
 * options.onMessage(msg) gets every message (WebSocket or the poll's); options.poll() returns
 * a Promise of {more: bool} (true: call again at once) and rejects with {status} on an HTTP
 * error. The element options.stateEl (if any) shows the state in words and in data-state
 * ("connecting", "live", "reconnecting", "polling", "stopped").
 *
 * Side streams (rkh_site/user_streams.py): every live socket also carries the user's
 * notification bell. A message of type "notifications" goes to the document as the event
 * "rkh:notifications" (detail: the message), not to options.onMessage; each state change is
 * the event "rkh:live-state" (detail: {state, path}); streams() counts the streams opened on
 * the page. static/js/bell.js listens. The pollers read with getJSON (static/js/common.js).
 */
var BACKOFF_MIN = 1000;
var BACKOFF_MAX = 30000;
var SILENCE_MS = 60000; // no message for this long: the connection is dead
var FIRST_MESSAGE_MS = 10000; // an open socket that says nothing this long does not work
var FAILURES_BEFORE_POLLING = 2;
var WS_RETRY_WHILE_POLLING = 60000;
var POLL_FAST = 2000;
var POLL_SLOW = 15000;
var FINAL_CODES = { 4401: "signed out", 4403: "no access", 4404: "order deleted" };
var LABELS = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  polling: "Updating every few seconds",
  stopped: "Live updates stopped",
};

function jitter(ms) {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

var opened = 0;

function announce(name, detail) {
  try {
    document.dispatchEvent(new CustomEvent(name, { detail: detail }));
  } catch {
    /* a listener's error must not stop the stream */
  }
}

export function open(options) {
  opened += 1;
  var socket = null;
  var backoff = BACKOFF_MIN;
  var failures = 0; // attempts in a row that never got a first message
  var reconnectTimer = null;
  var watchdog = null;
  var pollTimer = null;
  var wsRetryTimer = null;
  var pollDelay = POLL_FAST;
  var polling = false;
  var stopped = false;
  var state = "";

  function setState(next, detail) {
    state = next;
    announce("rkh:live-state", { state: next, path: options.wsPath });
    var node = options.stateEl;
    if (!node) return;
    node.setAttribute("data-state", next);
    node.textContent = LABELS[next] + (detail ? " (" + detail + ")" : "");
  }

  function stop(reason) {
    stopped = true;
    [reconnectTimer, pollTimer, wsRetryTimer, watchdog].forEach(function (t) {
      if (t) clearTimeout(t);
    });
    if (socket) {
      socket.onclose = null;
      try {
        socket.close();
      } catch {
        /* already closed */
      }
      socket = null;
    }
    setState("stopped", reason);
  }

  function armWatchdog(ms) {
    if (watchdog) clearTimeout(watchdog);
    watchdog = setTimeout(function () {
      if (socket) socket.close(); // onclose reconnects
    }, ms);
  }

  function wsUrl() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + options.wsPath + (options.wsQuery ? options.wsQuery() : "");
  }

  function connect() {
    reconnectTimer = null;
    if (stopped) return;
    if (typeof window.WebSocket !== "function") {
      startPolling();
      return;
    }
    var gotMessage = false;
    var ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch {
      failed(false);
      return;
    }
    socket = ws;
    if (!polling) setState(state === "" ? "connecting" : "reconnecting");
    armWatchdog(FIRST_MESSAGE_MS);
    ws.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!gotMessage) {
        gotMessage = true;
        failures = 0;
        backoff = BACKOFF_MIN;
        if (polling) stopPolling();
        setState("live");
      }
      armWatchdog(SILENCE_MS);
      if (message && message.type === "notifications") {
        announce("rkh:notifications", message);
        return;
      }
      options.onMessage(message, "websocket");
    };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      if (watchdog) clearTimeout(watchdog);
      if (FINAL_CODES[event.code]) {
        stop(FINAL_CODES[event.code]);
        return;
      }
      failed(gotMessage);
    };
  }

  function failed(hadWorked) {
    if (stopped) return;
    if (!hadWorked) failures += 1;
    if (polling) {
      scheduleWsRetry();
      return;
    }
    if (failures >= FAILURES_BEFORE_POLLING) {
      startPolling();
      return;
    }
    setState("reconnecting");
    reconnectTimer = setTimeout(connect, jitter(backoff));
    backoff = Math.min(BACKOFF_MAX, backoff * 2);
  }

  /* ---- polling fallback ---------------------------------------------------- */

  function startPolling() {
    if (polling || stopped) return;
    polling = true;
    pollDelay = POLL_FAST;
    setState("polling");
    pollNow();
    scheduleWsRetry();
  }

  function stopPolling() {
    polling = false;
    if (pollTimer) clearTimeout(pollTimer);
    if (wsRetryTimer) clearTimeout(wsRetryTimer);
    pollTimer = wsRetryTimer = null;
  }

  function scheduleWsRetry() {
    if (wsRetryTimer || stopped || typeof window.WebSocket !== "function") return;
    wsRetryTimer = setTimeout(function () {
      wsRetryTimer = null;
      if (polling && !socket) connect();
    }, jitter(WS_RETRY_WHILE_POLLING));
  }

  function pollNow() {
    pollTimer = null;
    if (!polling || stopped) return;
    options
      .poll()
      .then(function (result) {
        if (!polling || stopped) return;
        if (result && result.more) {
          pollDelay = POLL_FAST;
          pollTimer = setTimeout(pollNow, 0);
          return;
        }
        pollDelay = result && result.changed ? POLL_FAST : Math.min(POLL_SLOW, Math.round(pollDelay * 1.3));
        pollTimer = setTimeout(pollNow, jitter(pollDelay));
      })
      .catch(function (error) {
        var status = error && error.status;
        if (status === 401 || status === 403 || status === 404) {
          stop(status === 404 ? "not found" : "signed out or no access");
          return;
        }
        var wait = error && error.retryAfter ? error.retryAfter * 1000 : POLL_SLOW;
        pollTimer = setTimeout(pollNow, jitter(wait));
      });
  }

  connect();
  return { stop: stop, state: function () { return state; } };
}

/** How many streams this page opened (the bell opens its own only when the page has none). */
export function streams() {
  return opened;
}
