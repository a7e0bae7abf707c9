/* Order page: keep "What happens next" (templates/orders/includes/order_actions.html) current.
 *
 * The live script (static/js/order.js) updates the order's status badge and progress as the
 * order moves; when those change, this module asks the server for the box again
 * (GET /orders/<ref>/actions/), so its sentences and buttons follow the order without a
 * reload. It never replaces the box while the person is using it (focus inside): it waits
 * until they leave it. Without JavaScript the box is what the page was rendered with.
 */
const WATCHED = ["order-status", "progress-extra", "processed-text", "ingested-text"];
const DELAY_MS = 1000;

function box() {
  return document.getElementById("actions");
}

let timer = null;
let waiting = false;
let inFlight = false;

async function refresh() {
  timer = null;
  const current = box();
  if (!current) return;
  if (current.contains(document.activeElement)) {
    waiting = true; // the person is in the box: refresh when they leave it
    return;
  }
  if (inFlight) {
    schedule();
    return;
  }
  inFlight = true;
  try {
    const response = await fetch(current.dataset.url, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (!response.ok) return;
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    const fresh = holder.querySelector("#actions");
    const now = box();
    if (fresh && now && !now.contains(document.activeElement)) now.replaceWith(fresh);
    else if (fresh) waiting = true;
  } catch {
    /* offline for a moment: the next change asks again */
  } finally {
    inFlight = false;
  }
}

function schedule() {
  if (!timer) timer = setTimeout(refresh, DELAY_MS);
}

const observer = new MutationObserver(schedule);
for (const id of WATCHED) {
  const node = document.getElementById(id);
  if (node) observer.observe(node, { childList: true, characterData: true, subtree: true, attributes: true });
}
document.addEventListener("focusout", () => {
  if (!waiting) return;
  setTimeout(() => {
    const current = box();
    if (waiting && current && !current.contains(document.activeElement)) {
      waiting = false;
      schedule();
    }
  }, 0);
});
