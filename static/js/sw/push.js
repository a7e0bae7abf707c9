/* Service worker part: Web Push (system notifications while no tab is open), imported by
 * /sw.js (templates/pwa/sw.js). docs/notifications.md.
 *
 * "push": the server's message (notifications/push.py: {id, kind, title, body, url, open_url,
 * tag}), decrypted by the browser, becomes a system notification. Its tag
 * "rkh-notification-<id>" is the one the open tabs use (static/js/bell.js), so one
 * notification never shows twice.
 * "notificationclick": a tab already showing its page (url: the order, the review queue…) is
 * focused and the notification marked read (a GET of open_url); otherwise a new tab opens
 * open_url (/notifications/<id>/open), which marks it read and redirects to the page. Never is
 * another tab navigated away (it may be uploading); only URLs of this site are opened.
 */
"use strict";

(function () {
  var FALLBACK_URL = "/notifications/";

  function readPayload(event) {
    if (!event.data) return {};
    try {
      return event.data.json() || {};
    } catch {
      return { body: event.data.text() };
    }
  }

  function sameSiteUrl(value) {
    try {
      var url = new URL(value || FALLBACK_URL, self.location.origin);
      return url.origin === self.location.origin ? url.href : new URL(FALLBACK_URL, self.location.origin).href;
    } catch {
      return new URL(FALLBACK_URL, self.location.origin).href;
    }
  }

  self.addEventListener("push", function (event) {
    var data = readPayload(event);
    var title = data.title || "RKH Photo Orders";
    var options = {
      body: data.body || "",
      data: {
        url: sameSiteUrl(data.url),
        openUrl: sameSiteUrl(data.open_url || data.url),
        id: data.id || null,
      },
    };
    if (data.tag) options.tag = String(data.tag);
    event.waitUntil(self.registration.showNotification(title, options));
  });

  self.addEventListener("notificationclick", function (event) {
    event.notification.close();
    var data = event.notification.data || {};
    var page = sameSiteUrl(data.url);
    var open = sameSiteUrl(data.openUrl || data.url);
    event.waitUntil(
      self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
        for (var i = 0; i < windows.length; i++) {
          if (windows[i].url === page && "focus" in windows[i]) {
            var marked = fetch(open, { credentials: "same-origin", redirect: "manual" }).catch(function () {});
            return Promise.all([windows[i].focus(), marked]);
          }
        }
        return self.clients.openWindow ? self.clients.openWindow(open) : null;
      })
    );
  });
})();
