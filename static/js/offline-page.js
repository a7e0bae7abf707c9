/* The offline page (templates/pwa/offline.html): load the page that failed again as soon as the
 * site can be reached: when the browser says it is back online, every few seconds (a server
 * that was down comes back without the browser noticing), or by hand. The service worker shows
 * this page at the address that failed, so reloading asks for that page again.
 *
 * "online" alone is not trusted: it only means a network is there, not that the site answers
 * (and it can flicker). A small HEAD request to the offline page, which the worker leaves to the
 * network, decides. */
const section = document.querySelector("[data-probe-url]");
const probeUrl = section ? section.getAttribute("data-probe-url") : "/offline/";
const retry = document.getElementById("offline-retry");
const state = document.getElementById("offline-state");
const WAITING = state ? state.textContent : "";
const EVERY_MS = 10000;
let checking = false;

async function reachable() {
  try {
    const response = await fetch(probeUrl, { method: "HEAD", cache: "no-store", credentials: "omit" });
    return response.ok;
  } catch {
    return false;
  }
}

async function tryAgain(byHand) {
  if (checking) return;
  checking = true;
  if (byHand && state) state.textContent = "Checking the connection…";
  if (await reachable()) {
    if (state) state.textContent = "Connected again: loading the page…";
    window.location.reload();
    return;
  }
  checking = false;
  if (state) state.textContent = byHand ? "Still no connection. " + WAITING : WAITING;
}

if (retry) {
  retry.hidden = false;
  retry.addEventListener("click", () => tryAgain(true));
}
window.addEventListener("online", () => tryAgain(false));
window.setInterval(() => tryAgain(false), EVERY_MS);
