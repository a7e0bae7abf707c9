{% load static %}/* RKH Photo Orders service worker (served at /sw.js by rkh_site.pwa).
 * The parts: offline.js (installable app: offline page, upload queue) and push.js (Web Push). */
"use strict";
self.RKH_SW = { version: "1", offlineUrl: "/offline/" };
importScripts("{% static 'js/sw/offline.js' %}", "{% static 'js/sw/push.js' %}");
