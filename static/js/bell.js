/* The notification bell in the header (docs/notifications.md): the unread count, kept live,
 * and a browser notification for each new notification the user wants in the browser.
 *
 * Where the news comes from:
 * - on the order page and the dashboard, their own live socket carries it (static/js/live.js
 *   turns "notifications" messages into the document event "rkh:notifications"); this script
 *   runs after theirs (module scripts run in document order, and the bell's comes last in
 *   templates/base.html), so live.streams() says whether the page has one. When that socket turns live (again) the summary is fetched once,
 *   closing the gap between the page's rendering and the socket's start; when it gives up or
 *   falls back to polling, the bell opens a stream of its own;
 * - on every other page, the bell's own stream: ws/notifications/ through live.open (same
 *   reconnect, back-off and polling fallback), polling the summary endpoint when WebSockets fail.
 *
 * Browser notifications: only while this page is open, with the permission granted (asked on
 * the settings page, never here), and only when this browser has no Web Push subscription (then
 * the service worker shows them, static/js/sw/push.js, so nothing is shown twice). Each carries
 * the tag "rkh-notification-<id>", so several open tabs show it once.
 */
import * as live from "./live.js";
import { getJSON } from "./common.js";

const bell = document.querySelector("[data-bell]");
if (bell) start(bell);

function start(bell) {
  const countEl = bell.querySelector("[data-bell-count]");
  const summaryUrl = bell.dataset.summaryUrl;
  const ownPath = bell.dataset.wsPath;
  let lastId = Number(bell.dataset.lastId || 0);
  let ownStream = null;
  let pushSubscribed = readPushState();

  function render(unread) {
    const n = Math.max(0, Number(unread) || 0);
    countEl.textContent = n > 99 ? "99+" : String(n);
    countEl.hidden = n === 0;
    bell.setAttribute("aria-label", `Notifications, ${n} unread`);
    bell.dataset.unread = String(n);
  }

  function apply(message) {
    if (!message || message.type !== "notifications") return;
    render(message.unread);
    const fresh = (message.latest || []).filter((n) => n.id > lastId).sort((a, b) => a.id - b.id);
    if (!fresh.length) return;
    lastId = Math.max(lastId, ...fresh.map((n) => n.id));
    bell.dataset.lastId = String(lastId);
    const wanted = fresh.filter((n) => n.system);
    if (wanted.length) showInBrowser(wanted);
  }

  async function showInBrowser(items) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (await pushSubscribed) return; // the service worker shows them
    for (const item of items) {
      try {
        const shown = new Notification(item.title, {
          body: item.body,
          tag: `rkh-notification-${item.id}`,
          data: { url: item.open_url },
        });
        shown.onclick = () => {
          window.focus();
          shown.close();
          if (new URL(item.url, window.location.href).pathname === window.location.pathname) {
            fetch(item.open_url, { credentials: "same-origin", redirect: "manual" }).catch(() => {});
          } else {
            window.location.assign(item.open_url);
          }
        };
      } catch {
        /* Chrome on Android allows only the service worker's notifications: nothing to do */
      }
    }
  }

  function readPushState() {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) return Promise.resolve(false);
    return navigator.serviceWorker
      .getRegistration("/")
      .then((registration) => (registration ? registration.pushManager.getSubscription() : null))
      .then((subscription) => Boolean(subscription))
      .catch(() => false);
  }

  function fetchSummary() {
    return getJSON(summaryUrl).then((message) => {
      apply(message);
      return { more: false, changed: false };
    });
  }

  function openOwn() {
    if (ownStream) return;
    ownStream = live.open({ wsPath: ownPath, onMessage: () => {}, poll: fetchSummary });
  }

  document.addEventListener("rkh:notifications", (event) => apply(event.detail));
  document.addEventListener("rkh:push-changed", () => {
    pushSubscribed = readPushState();
  });

  const pageStream = live.streams() > 0;
  if (!pageStream) {
    openOwn();
    return;
  }
  // The page was rendered a moment before its socket joined: catch up once now, and after each
  // reconnection (the socket only sends what changes while it is connected).
  fetchSummary().catch(() => {});
  document.addEventListener("rkh:live-state", (event) => {
    const { state, path } = event.detail || {};
    if (path === ownPath) return;
    if (state === "live") fetchSummary().catch(() => {});
    else if (state === "polling" || state === "stopped") openOwn();
  });
}
