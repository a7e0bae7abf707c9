/* Service worker part: the installable app's offline page and its cache (docs/app.md).
 *
 * What is kept on the device: only self.RKH_SW.precache (set by rkh_site/pwa.py): the offline
 * page and the public static files it needs, in one cache named after their version. Nothing
 * else is ever stored: order pages, API answers, uploads and images are customer data and go
 * to the network only (this worker does not even answer those requests: the browser handles
 * them as if there were no worker).
 *
 * - install: store the precache list (without cookies, so nothing personal is stored), then
 *   take over at once (skipWaiting): the worker holds no state that an open page depends on.
 * - activate: delete this app's caches of older versions, control open pages (clients.claim)
 *   so the offline page works from the first visit, and switch on navigation preload.
 * - a page navigation goes to the network; only when that fails (no connection, server
 *   unreachable) is the offline page answered instead of the browser's error. HTTP errors
 *   (404, 500) are the server's answer and pass through.
 * - precached static files: from the cache first when their URLs carry a content hash
 *   (production); in development (unhashed URLs) from the network first.
 */
"use strict";

(function () {
  var config = self.RKH_SW || {};
  var PREFIX = "rkh-app-";
  var CACHE = PREFIX + (config.version || "0");
  var OFFLINE_URL = config.offlineUrl || "/offline/";
  var STATIC_URL = config.staticUrl || "/static/";
  var PRECACHE = config.precache || [OFFLINE_URL];

  function absolute(url) {
    return new URL(url, self.location.origin).href;
  }

  var precached = new Set(PRECACHE.map(absolute));

  self.addEventListener("install", function (event) {
    event.waitUntil(
      caches
        .open(CACHE)
        .then(function (cache) {
          var requests = PRECACHE.map(function (url) {
            // "reload": past the HTTP cache, so the stored copy is the deployed one.
            return new Request(url, { cache: "reload", credentials: "omit" });
          });
          return cache.addAll(requests);
        })
        .then(function () {
          return self.skipWaiting();
        })
    );
  });

  self.addEventListener("activate", function (event) {
    event.waitUntil(
      caches
        .keys()
        .then(function (names) {
          return Promise.all(
            names
              .filter(function (name) {
                // Only this part's caches: other parts of the worker may keep their own.
                return name.indexOf(PREFIX) === 0 && name !== CACHE;
              })
              .map(function (name) {
                return caches.delete(name);
              })
          );
        })
        .then(function () {
          if (self.registration.navigationPreload) {
            return self.registration.navigationPreload.enable().catch(function () {});
          }
          return undefined;
        })
        .then(function () {
          return self.clients.claim();
        })
    );
  });

  // A page that loaded while this worker was still installing is not controlled (claim() in
  // activate came before it existed): sw-register.js asks, and the worker takes it over.
  self.addEventListener("message", function (event) {
    if (event.data && event.data.type === "rkh:claim") event.waitUntil(self.clients.claim());
  });

  function offlinePage() {
    return caches.open(CACHE).then(function (cache) {
      return cache.match(OFFLINE_URL, { ignoreVary: true }).then(function (response) {
        return response || Response.error();
      });
    });
  }

  function navigate(event) {
    return Promise.resolve(event.preloadResponse)
      .then(function (preloaded) {
        return preloaded || fetch(event.request);
      })
      .catch(function () {
        return offlinePage();
      });
  }

  function fromCache(request) {
    return caches.open(CACHE).then(function (cache) {
      return cache.match(request, { ignoreVary: true, ignoreSearch: false });
    });
  }

  function cacheFirst(request) {
    return fromCache(request).then(function (hit) {
      return hit || fetch(request);
    });
  }

  function networkFirst(request) {
    return fetch(request).catch(function (error) {
      return fromCache(request).then(function (hit) {
        if (hit) return hit;
        throw error;
      });
    });
  }

  self.addEventListener("fetch", function (event) {
    var request = event.request;
    if (request.method !== "GET") return; // uploads and every other write: not ours
    var url = new URL(request.url);
    if (url.origin !== self.location.origin) return;
    if (request.mode === "navigate") {
      event.respondWith(navigate(event));
      return;
    }
    if (url.pathname.indexOf(STATIC_URL) === 0 && precached.has(url.href)) {
      event.respondWith(config.cacheFirst ? cacheFirst(request) : networkFirst(request));
    }
    // Anything else (API answers, images, live polling, other static files) is left to the
    // browser: straight to the network, never stored by this worker.
  });
})();
