/* Service worker part: Web Push (system notifications while no tab is open). Filled in by the
 * notifications work. */
"use strict";
