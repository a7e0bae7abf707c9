/* The order page's PMR box follows the live order state (an ES module, no globals).
 *
 * The box's content is made once, on the server (pmr/box.py `delivery_box`): the template
 * renders it, and every live order state carries the same dict as `state.pmr`. The order
 * page's script (static/js/order.js) announces each state it applies with a
 * `rkh:order-state` event on `document`; this module re-draws the box from it, so the box
 * never needs a reload (e.g. "Nothing sent yet" → "Uploading…" → "Delivered").
 */

const box = document.getElementById("pmr-box");

function setText(id, text) {
  const node = document.getElementById(id);
  if (node && node.textContent !== text) node.textContent = text;
}

function apply(pmr) {
  box.dataset.state = pmr.state;
  const note = document.getElementById("pmr-state");
  if (note) {
    const tone = "note " + pmr.tone;
    if (note.className !== tone) note.className = tone;
  }
  setText("pmr-state", pmr.text);
  const statusLine = document.getElementById("pmr-status-line");
  if (statusLine) statusLine.hidden = !pmr.status;
  const badge = document.getElementById("pmr-status");
  if (badge) {
    badge.className = "badge pmr-" + pmr.status;
    setText("pmr-status", pmr.status_label);
  }
  setText("pmr-status-reason", pmr.status_reason ? " — " + pmr.status_reason : "");
  const exportLine = document.getElementById("pmr-export");
  if (exportLine) exportLine.hidden = !pmr.has_images;
}

if (box) {
  document.addEventListener("rkh:order-state", (event) => {
    const state = event.detail;
    if (state && state.pmr) apply(state.pmr);
  });
}
