/* The offline page (templates/pwa/offline.html): try the page again, by hand or as soon as the
 * browser says it is back online. The service worker shows this page at the address that
 * failed, so reloading asks for that page again. */
const retry = document.getElementById("offline-retry");
const state = document.getElementById("offline-state");

function again() {
  if (state) state.textContent = "Trying again…";
  window.location.reload();
}

if (retry) {
  retry.hidden = false;
  retry.addEventListener("click", again);
}
window.addEventListener("online", again);
