{% load static %}/* RKH Photo Orders service worker (served at /sw.js by rkh_site.pwa).
 * The parts: offline.js (installable app: offline page, caches) and push.js (Web Push).
 * RKH_SW comes from rkh_site/pwa.py: the cache version and what to precache (public URLs only). */
"use strict";
self.RKH_SW = {{ config_json|safe }};
importScripts("{% static 'js/sw/offline.js' %}", "{% static 'js/sw/push.js' %}");
