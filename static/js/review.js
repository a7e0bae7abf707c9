/* Review queue (/review/): answer many images at once, by mouse or by keyboard.
 *
 * An ES module (no globals). Without it the page still works: every answer is a form that
 * posts and comes back with a message, the checkboxes belong to the bulk form (form="bulk-form"),
 * thumbnails open the preview in a new tab. With it:
 *
 * - j / ↓ and k / ↑ move between images (roving focus, visible outline), x selects the
 *   current image, a approves the selection (or the current image), r rejects it after a
 *   confirmation that also takes the optional reason, Enter opens the preview (both pictures
 *   of a near-duplicate side by side), ? lists the shortcuts, Esc closes a dialog;
 * - "Select all on this page", and a live count of the selection;
 * - answers are posted to the bulk endpoint with Accept: application/json; the answered (and
 *   the meanwhile vanished) images leave the list, the counts follow, and the server's summary
 *   ("12 approved, 1 could not be: …") is announced in an aria-live region.
 */

const list = document.querySelector(".review-list");
const bulkForm = document.getElementById("bulk-form");
const summary = document.getElementById("review-summary");
const previewDialog = document.getElementById("review-preview");
const rejectDialog = document.getElementById("review-reject");
const helpDialog = document.getElementById("review-help");
const helpButton = document.getElementById("review-help-open");
const selectAll = document.getElementById("select-all");
const selectedCount = document.getElementById("selected-count");
const totalText = document.getElementById("review-total");

let current = null;
let busy = false;

/* ---- helpers ---------------------------------------------------------------------- */

function items() {
  return list ? Array.from(list.querySelectorAll(".review-item")) : [];
}

function checkbox(item) {
  return item.querySelector('.review-select input[type="checkbox"]');
}

function nameOf(item) {
  const heading = item.querySelector("h2");
  return heading ? heading.textContent.trim() : "this image";
}

function selectedItems() {
  return items().filter((item) => checkbox(item).checked);
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

/** Put a sentence in the live region (cleared first, so the same words are read again). */
function say(text, level = "info") {
  summary.textContent = "";
  summary.dataset.level = level;
  window.setTimeout(() => {
    summary.textContent = text;
  }, 50);
}

function typingIn(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.closest("select, textarea")) return true;
  const input = target.closest("input");
  return Boolean(input) && !["checkbox", "radio", "button", "submit"].includes(input.type);
}

function anyDialogOpen() {
  return Boolean(document.querySelector("dialog[open]"));
}

/* ---- focus and selection ---------------------------------------------------------- */

function setCurrent(item, { focus = true } = {}) {
  if (!item) return;
  for (const other of items()) {
    other.classList.toggle("current", other === item);
    other.tabIndex = other === item ? 0 : -1;
  }
  current = item;
  if (focus) {
    item.focus();
    item.scrollIntoView({ block: "nearest" });
  }
}

function move(step) {
  const all = items();
  if (!all.length) return;
  const index = all.indexOf(current);
  const next = index === -1 ? (step > 0 ? 0 : all.length - 1) : index + step;
  setCurrent(all[Math.max(0, Math.min(all.length - 1, next))]);
}

function refreshSelection() {
  const all = items();
  const chosen = all.filter((item) => checkbox(item).checked);
  for (const item of all) item.classList.toggle("selected", checkbox(item).checked);
  if (selectedCount) {
    selectedCount.textContent = chosen.length
      ? `${plural(chosen.length, "image", "images")} selected`
      : "No image selected";
  }
  if (selectAll) {
    selectAll.checked = all.length > 0 && chosen.length === all.length;
    selectAll.indeterminate = chosen.length > 0 && chosen.length < all.length;
  }
}

function toggle(item) {
  const box = checkbox(item);
  box.checked = !box.checked;
  refreshSelection();
}

/** The images an answer is for: the selection, else the current image. */
function targets() {
  const chosen = selectedItems();
  if (chosen.length) return chosen;
  return current && current.isConnected ? [current] : [];
}

/* ---- answering -------------------------------------------------------------------- */

function removeItems(ids) {
  const gone = new Set(ids.map(String));
  if (!gone.size) return;
  const all = items();
  const wasCurrent = current && gone.has(current.dataset.image);
  let successor = null;
  if (wasCurrent) {
    const index = all.indexOf(current);
    successor =
      all.slice(index + 1).find((item) => !gone.has(item.dataset.image)) ||
      all.slice(0, index).reverse().find((item) => !gone.has(item.dataset.image)) ||
      null;
  }
  for (const item of all) if (gone.has(item.dataset.image)) item.remove();
  if (!items().length) {
    list.hidden = true;
    if (bulkForm) bulkForm.hidden = true;
    const emptied = document.getElementById("review-emptied");
    current = null;
    if (emptied) {
      emptied.hidden = false;
      emptied.tabIndex = -1;
      emptied.focus(); // focus never falls back to the page's top
    }
  } else if (wasCurrent) {
    setCurrent(successor);
  }
  refreshSelection();
}

function showProblems(kept) {
  for (const { id, message } of kept) {
    const item = list.querySelector(`.review-item[data-image="${id}"]`);
    if (!item) continue;
    let note = item.querySelector(".item-problem");
    if (!note) {
      note = document.createElement("p");
      note.className = "item-problem field-error";
      item.querySelector(".review-main").append(note);
    }
    note.textContent = message;
    checkbox(item).checked = false;
  }
}

function updateCounts(body) {
  if (totalText && Number.isInteger(body.total)) {
    totalText.textContent = `${plural(body.total, "image", "images")} waiting for review`;
  }
  if (body.reasons && typeof body.reasons === "object") {
    let sum = 0;
    for (const [code, count] of Object.entries(body.reasons)) {
      sum += count;
      const badge = document.querySelector(`[data-reason-count="${CSS.escape(code)}"]`);
      if (badge) badge.textContent = String(count);
    }
    const all = document.querySelector('[data-reason-count=""]');
    if (all) all.textContent = String(sum);
  }
  relabel(document.getElementById("review-reason"), body.reasons);
  relabel(document.getElementById("review-order"), body.orders);
}

/* The filter form's choices end in their count, "Near-duplicate (3)": set it anew (an
   option the answer does not name has nothing waiting any more). */
function relabel(select, counts) {
  if (!select || !counts || typeof counts !== "object") return;
  for (const option of select.options) {
    if (!option.value) continue;
    const count = Number.isInteger(counts[option.value]) ? counts[option.value] : 0;
    option.textContent = option.textContent.replace(/\(\d+\)$/, `(${count})`);
  }
}

async function answer(chosen, action, reason = "") {
  if (busy || !bulkForm) return;
  if (!chosen.length) {
    say("Select images with x (or their checkboxes), or move to one with j and k, first.", "warning");
    return;
  }
  busy = true;
  const data = new FormData();
  data.append("csrfmiddlewaretoken", bulkForm.elements.csrfmiddlewaretoken.value);
  data.append("back", bulkForm.elements.back.value);
  data.append("action", action);
  if (reason) data.append("reason", reason);
  for (const item of chosen) data.append("ids", item.dataset.image);
  say(`${action === "approve" ? "Approving" : "Rejecting"} ${plural(chosen.length, "image", "images")}…`);
  try {
    let response;
    try {
      // getAttribute: the form's buttons are named "action", which shadows form.action.
      response = await fetch(bulkForm.getAttribute("action"), {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch {
      say("The server could not be reached, so nothing was answered. Try again.", "error");
      return;
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok || !body || body.error) {
      const message = body && body.error && body.error.message;
      say(message || `Nothing was answered: the server replied ${response.status}. Reload the page.`, "error");
      return;
    }
    showProblems(body.kept || []);
    removeItems([...(body.done || []), ...(body.gone || [])]);
    updateCounts(body);
    say(body.summary, body.level);
  } finally {
    busy = false;
  }
}

function confirmReject(chosen, reason) {
  if (!chosen.length) {
    answer(chosen, "reject");
    return;
  }
  const text = document.getElementById("review-reject-text");
  const title = document.getElementById("review-reject-title");
  const input = document.getElementById("review-reject-reason");
  const many = chosen.length > 1;
  title.textContent = many ? `Reject ${chosen.length} images?` : `Reject ${nameOf(chosen[0])}?`;
  text.textContent = `${many ? "Their files are" : "Its files are"} deleted and the order goes on without ${
    many ? "them" : "it"
  }; this cannot be undone.`;
  input.value = reason;
  rejectDialog.returnValue = "";
  rejectDialog.addEventListener(
    "close",
    () => {
      if (rejectDialog.returnValue === "confirm") answer(chosen, "reject", input.value.trim());
      else if (current && current.isConnected) current.focus();
    },
    { once: true },
  );
  rejectDialog.showModal();
  input.focus();
}

/* ---- preview and help ------------------------------------------------------------- */

function openPreview(item) {
  const links = Array.from(item.querySelectorAll("a[data-preview]"));
  const figures = document.getElementById("review-preview-figures");
  figures.replaceChildren();
  if (!links.length) {
    const note = document.createElement("p");
    note.textContent = "No preview of this image is stored.";
    figures.append(note);
  }
  for (const link of links) {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.src = link.dataset.preview;
    img.alt = link.dataset.caption || "";
    const caption = document.createElement("figcaption");
    caption.textContent = link.dataset.caption || "";
    figure.append(img, caption);
    figures.append(figure);
  }
  document.getElementById("review-preview-title").textContent = nameOf(item);
  previewDialog.addEventListener("close", () => item.isConnected && item.focus(), { once: true });
  previewDialog.showModal();
}

function openHelp() {
  const back = document.activeElement;
  helpDialog.addEventListener("close", () => back && back.isConnected && back.focus(), { once: true });
  helpDialog.showModal();
}

for (const dialog of [previewDialog, helpDialog]) {
  if (!dialog) continue;
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog || event.target.closest("[data-close]")) dialog.close();
  });
}

/* ---- wiring ----------------------------------------------------------------------- */

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (anyDialogOpen() || typingIn(event.target)) return;
  const key = event.key;
  if (key === "?") {
    event.preventDefault();
    openHelp();
    return;
  }
  if (!items().length) return;
  const onItem = event.target instanceof Element && event.target.classList.contains("review-item");
  switch (key) {
    case "j":
    case "ArrowDown":
      move(1);
      break;
    case "k":
    case "ArrowUp":
      move(-1);
      break;
    case "x":
      if (!current || !current.isConnected) move(1);
      toggle(current);
      break;
    case "a":
      answer(targets(), "approve");
      break;
    case "r":
      confirmReject(targets(), document.getElementById("bulk-reason").value.trim());
      break;
    case "Enter":
      if (!onItem) return; // Enter on a button or link does what it always does
      openPreview(event.target);
      break;
    default:
      return;
  }
  event.preventDefault();
}

if (list && bulkForm) {
  if (selectAll) {
    selectAll.closest("label").hidden = false;
    selectAll.addEventListener("change", () => {
      for (const item of items()) checkbox(item).checked = selectAll.checked;
      refreshSelection();
    });
  }
  list.addEventListener("change", (event) => {
    if (event.target.matches('.review-select input[type="checkbox"]')) refreshSelection();
  });
  list.addEventListener("focusin", (event) => {
    const item = event.target.closest(".review-item");
    if (item && item !== current) setCurrent(item, { focus: false });
  });
  list.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-preview]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    openPreview(link.closest(".review-item"));
  });
  list.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-answer]");
    if (!form) return;
    event.preventDefault();
    const item = form.closest(".review-item");
    setCurrent(item, { focus: false });
    const reason = form.elements.reason ? form.elements.reason.value.trim() : "";
    answer([item], form.dataset.answer, reason);
  });
  bulkForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const action = event.submitter ? event.submitter.value : "approve";
    const chosen = selectedItems();
    if (!chosen.length) {
      say("Select at least one image first.", "warning");
      return;
    }
    if (action === "reject") confirmReject(chosen, bulkForm.elements.reason.value.trim());
    else answer(chosen, "approve");
  });
  const first = items()[0];
  if (first) first.tabIndex = 0;
  refreshSelection();
}

if (helpButton && helpDialog) {
  helpButton.hidden = false;
  helpButton.addEventListener("click", openHelp);
}
document.addEventListener("keydown", onKey);
