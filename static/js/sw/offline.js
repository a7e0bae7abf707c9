/* Service worker part: installable app (offline page, caches). Filled in by the PWA work. */
"use strict";
