/* Order page: live status (timeline, progress, image grid) and the preview dialog.
 *
 * Works without this script: thumbnails are links to the preview, the page shows the
 * statuses it was rendered with. With it, the page follows the order as it happens through
 * static/js/live.js (WebSocket, or polling the timeline endpoint where WebSockets are
 * blocked): timeline entries and the order's progress arrive in the live messages, and image
 * events make the grid ask the page's images endpoint for those cards (one request per burst).
 * The order's state (status, counters, details, the drop zone or its "no more images" notice)
 * is applied here and announced as a `rkh:order-state` event for the page's other boxes (the
 * PMR box: static/js/pmr_box.js). New cards take their place in the names' natural order.
 * A thumbnail opens a dialog (Esc closes it and focus returns to the thumbnail).
 */
import * as live from "./live.js";
import { el, getJSON } from "./common.js";

start();

function start() {
  var section = document.getElementById("images");
  if (!section) return;
  var grid = document.getElementById("image-grid");
  var imagesUrl = section.getAttribute("data-images-url");
  var lastId = parseInt(section.getAttribute("data-last-id") || "0", 10) || 0;
  // The grid is in the names' natural order (the server's sort key, orders/natural.py, then
  // the id), one page at a time. This page holds the images after (after-key, after-id), up
  // to and including (until-key, until-id) when more pages follow; none of either: all.
  var afterKey = section.getAttribute("data-after-key") || "";
  var afterId = parseInt(section.getAttribute("data-after-id") || "0", 10) || 0;
  var untilKey = section.getAttribute("data-until-key") || "";
  var untilId = parseInt(section.getAttribute("data-until-id") || "0", 10) || 0;

  /* ---- grid ------------------------------------------------------------------ */

  /** Grid order of two images: by sort key (plain ASCII: `<` is the database's order), then id. */
  function compare(keyA, idA, keyB, idB) {
    if (keyA !== keyB) return keyA < keyB ? -1 : 1;
    return idA - idB;
  }

  /** Whether an image's name falls on the page shown. */
  function onThisPage(img) {
    var key = img.sort_key || "";
    if (afterId && compare(key, img.id, afterKey, afterId) <= 0) return false;
    if (untilId && compare(key, img.id, untilKey, untilId) > 0) return false;
    return true;
  }

  /** Put a new card where its name belongs (binary search over the cards in grid order). */
  function insertSorted(card, img) {
    var cards = grid.children;
    var key = img.sort_key || "";
    var lo = 0;
    var hi = cards.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      var other = cards[mid];
      var otherId = parseInt(other.getAttribute("data-id"), 10) || 0;
      if (compare(other.getAttribute("data-key") || "", otherId, key, img.id) < 0) lo = mid + 1;
      else hi = mid;
    }
    grid.insertBefore(card, cards[lo] || null);
  }

  /** What the card shows; the same string as the template's data-sig. */
  function signature(img) {
    return img.status + "|" + (img.thumbnail_url || "");
  }

  function buildCard(img) {
    var li = el("li", {
      class: "card",
      id: "image-" + img.id,
      "data-id": img.id,
      "data-key": img.sort_key || "",
      "data-status": img.status,
      "data-sig": signature(img),
      "data-pending": img.pending ? "1" : null,
    });
    if (img.thumbnail_url) {
      var a = el("a", {
        class: "thumb",
        href: img.preview_url || img.thumbnail_url,
        "data-preview": img.preview_url || "",
        "data-original": img.original_url || "",
        "aria-label": "Open preview of " + img.filename,
      });
      a.appendChild(
        el("img", {
          src: img.thumbnail_url,
          alt: "",
          loading: "lazy",
          decoding: "async",
          width: img.thumb_w,
          height: img.thumb_h,
        })
      );
      li.appendChild(a);
    } else {
      li.appendChild(
        el("span", { class: "thumb placeholder", "aria-hidden": "true" }, img.pending ? "Preparing…" : "No preview")
      );
    }
    var body = el("div", { class: "card-body" });
    body.appendChild(el("span", { class: "filename", title: img.filename }, img.filename));
    body.appendChild(el("span", { class: "badge status-" + img.status, "data-testid": "image-status" }, img.status_label));
    if (img.status_reason) body.appendChild(el("p", { class: "reason" }, img.status_reason));
    if (img.prints_url) body.appendChild(el("a", { class: "prints-link small", href: img.prints_url }, "Prints and crops"));
    li.appendChild(body);
    return li;
  }

  function applyImage(img) {
    // Whoever follows images (the upload list: "Ingested", "Rejected: …") hears every status.
    document.dispatchEvent(new CustomEvent("rkh:image-status", { detail: img }));
    var existing = document.getElementById("image-" + img.id);
    if (existing) {
      if (existing.getAttribute("data-sig") === signature(img)) return false;
      var hadFocus = existing.contains(document.activeElement);
      var card = buildCard(img);
      existing.replaceWith(card);
      if (hadFocus) {
        var focusable = card.querySelector("a.thumb");
        if (focusable) focusable.focus();
      }
      return true;
    }
    if (img.id > lastId) lastId = img.id;
    if (!onThisPage(img)) return true;
    insertSorted(buildCard(img), img);
    var none = document.getElementById("no-images");
    if (none) none.hidden = true;
    return true;
  }

  function setText(id, text) {
    var node = document.getElementById(id);
    if (node && node.textContent !== text) node.textContent = text;
  }

  function setBar(id, value, max) {
    var bar = document.getElementById(id);
    if (!bar) return;
    bar.max = Math.max(1, max);
    bar.value = value;
  }

  /** Once no image can be added (completed, cancelled, handed to the PMR), the drop zone gives
   * way to the notice.
   * Files still listed in the upload batch stay visible (what happened to them matters);
   * without any, the whole upload section goes. Closed orders never reopen. */
  function applyUploadState(o) {
    if (!o.closed_notice) return;
    var none = document.getElementById("no-images");
    if (none && o.closed) none.textContent = "No images.";
    var notice = document.getElementById("upload-closed");
    if (notice) {
      if (o.closed_notice) notice.textContent = o.closed_notice;
      notice.hidden = false;
    }
    var upload = document.getElementById("upload");
    if (!upload) return;
    var dropzone = document.getElementById("dropzone");
    if (dropzone) dropzone.hidden = true;
    var batch = document.getElementById("upload-batch");
    upload.hidden = !batch || batch.hidden;
  }

  /** The order's details (edited, assigned, preset chosen while the page is open). */
  function applyDetails(d) {
    if (!d) return;
    setText("fact-event", d.event);
    setText("fact-customer_name", d.customer_name);
    setText("fact-order_date", d.order_date);
    setText("fact-preset", d.preset || "—");
    setText("fact-assigned_to", d.assigned_to || "—");
    var email = document.getElementById("fact-customer_email");
    if (email) {
      email.textContent = d.customer_email;
      email.href = "mailto:" + d.customer_email;
      email.hidden = !d.customer_email;
    }
    setText("fact-notes", d.notes);
    ["fact-notes", "fact-notes-label"].forEach(function (id) {
      var node = document.getElementById(id);
      if (node) node.hidden = !d.notes;
    });
  }

  /** The order's live state (WebSocket message or the images endpoint): everything the
   * page shows about the order. Other parts of the page (the PMR box) hear it as a
   * `rkh:order-state` event. */
  function applyOrder(o) {
    setText("images-count", "(" + o.total + ")");
    setText("ingested-text", o.ingested + "/" + o.total);
    setText("processed-text", o.processed + "/" + o.total);
    setBar("progress-ingested", o.ingested, o.total);
    setBar("progress-processed", o.processed, o.total);
    setText(
      "progress-extra",
      o.counts_text || o.waiting + " waiting · " + o.rejected + " rejected · " + o.failed + " failed"
    );
    var badge = document.getElementById("order-status");
    if (badge && badge.textContent !== o.status_label) {
      badge.textContent = o.status_label;
      badge.className = "badge status-" + o.status;
    }
    applyUploadState(o);
    applyDetails(o.details);
    document.dispatchEvent(new CustomEvent("rkh:order-state", { detail: o }));
  }

  /* ---- timeline ------------------------------------------------------------------ */

  var timeline = document.getElementById("timeline");
  var TIMELINE_MAX = 100;
  // The last entry number the page has: the larger of what the server says and what is shown
  // (the list may have been read a moment after the order row).
  var lastSeq = timeline ? parseInt(timeline.getAttribute("data-last-seq") || "0", 10) || 0 : 0;
  if (timeline) {
    timeline.querySelectorAll("li[data-seq]").forEach(function (li) {
      lastSeq = Math.max(lastSeq, parseInt(li.getAttribute("data-seq"), 10) || 0);
    });
  }

  function timelineItem(entry) {
    var li = el("li", { "data-seq": entry.seq });
    li.appendChild(el("span", { class: "seq" }, "#" + entry.seq));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("span", { class: "what" }, entry.text));
    var meta = el("span", { class: "meta" });
    meta.appendChild(el("time", { datetime: entry.at }, entry.at_label));
    if (entry.actor) meta.appendChild(document.createTextNode(" · " + entry.actor));
    li.appendChild(meta);
    return li;
  }

  /** Entries oldest first (live messages and the timeline endpoint); each number once. */
  function applyEvents(entries) {
    var fresh = entries.filter(function (entry) {
      return entry.seq > lastSeq;
    });
    if (!fresh.length) return [];
    lastSeq = fresh[fresh.length - 1].seq;
    if (timeline) {
      // Only the newest TIMELINE_MAX can stay on the page: build no more than that.
      fresh.slice(-TIMELINE_MAX).forEach(function (entry) {
        timeline.insertBefore(timelineItem(entry), timeline.firstChild);
      });
      while (timeline.children.length > TIMELINE_MAX) timeline.removeChild(timeline.lastChild);
      timeline.setAttribute("data-last-seq", String(lastSeq));
    }
    return fresh;
  }

  /* ---- grid refresh: after live events, uploads, or on demand ---------------------- */

  var REFRESH_DELAY = 250; // gather a burst of events into one request
  var refreshTimer = null;
  var inFlight = false;
  var again = false;
  var wantIds = {};

  function pendingIds() {
    var ids = [];
    grid.querySelectorAll(".card[data-pending]").forEach(function (card) {
      ids.push(card.getAttribute("data-id"));
    });
    return ids;
  }

  /** Ask the page's images endpoint about these images (and any new ones) soon. */
  function refreshImages(ids) {
    (ids || []).forEach(function (id) {
      wantIds[id] = true;
    });
    if (inFlight) {
      again = true;
      return;
    }
    if (!refreshTimer) refreshTimer = setTimeout(refreshNow, REFRESH_DELAY);
  }

  function refreshNow() {
    refreshTimer = null;
    inFlight = true;
    var ids = Object.keys(wantIds);
    wantIds = {};
    pendingIds().forEach(function (id) {
      if (ids.indexOf(id) < 0) ids.push(id);
    });
    ids = ids.filter(function (id) {
      return parseInt(id, 10) <= lastId; // newer ones come with ?after=
    });
    var url = imagesUrl + "?after=" + lastId + (ids.length ? "&ids=" + ids.slice(0, 500).join(",") : "");
    if (ids.length > 500) {
      ids.slice(500).forEach(function (id) {
        wantIds[id] = true;
      });
      again = true;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        data.images.forEach(applyImage);
        applyOrder(data.order);
      })
      .catch(function () {
        /* the next event or poll asks again */
      })
      .then(function () {
        inFlight = false;
        if (again) {
          again = false;
          refreshImages();
        }
      });
  }

  // The uploader (static/js/upload.js) says when a file is in: look again soon.
  document.addEventListener("rkh:upload-finished", function () {
    refreshImages();
  });

  /* ---- live status (static/js/live.js) -------------------------------------------- */

  var first = true;
  var lastPolledState = "";

  function onLive(message) {
    if (message.type !== "events") return;
    var fresh = applyEvents(message.events || []);
    if (message.order) applyOrder(message.order);
    var ids = [];
    var newImages = false;
    fresh.forEach(function (entry) {
      var payload = entry.payload || {};
      // One image's move ("image"), or a batch of the same move ("images": the PMR drain).
      var images = typeof payload.image === "number" ? [payload.image] : payload.images;
      if (!Array.isArray(images)) return;
      images.forEach(function (image) {
        if (typeof image !== "number") return;
        if (image > lastId) newImages = true;
        else ids.push(String(image));
      });
    });
    if (ids.length || newImages || (first && pendingIds().length)) refreshImages(ids);
    first = false;
  }

  var liveSection = document.getElementById("live");
  if (liveSection) {
    var timelineUrl = liveSection.getAttribute("data-timeline-url");
    live.open({
      wsPath: liveSection.getAttribute("data-ws-path"),
      wsQuery: function () {
        return "?after=" + lastSeq;
      },
      stateEl: document.getElementById("live-state"),
      onMessage: onLive,
      poll: function () {
        return getJSON(timelineUrl + "?after=" + lastSeq + "&limit=200").then(function (page) {
          var before = lastSeq;
          var state = JSON.stringify(page.state || null);
          var stateChanged = state !== lastPolledState;
          lastPolledState = state;
          onLive({ type: "events", events: page.events, order: page.state }, "poll");
          return { more: page.has_more, changed: lastSeq > before || stateChanged };
        });
      },
    });
  } else if (pendingIds().length) {
    refreshImages();
  }

  /* ---- preview dialog ------------------------------------------------------------ */

  var dialog = document.getElementById("preview-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return; // links still open previews
  var title = document.getElementById("preview-title");
  var picture = document.getElementById("preview-img");
  var statusText = document.getElementById("preview-status");
  var reasonText = document.getElementById("preview-reason");
  var originalLink = document.getElementById("preview-original");
  var opener = null;

  function show(link) {
    var card = link.closest(".card");
    opener = link;
    var name = card.querySelector(".filename").textContent;
    var badge = card.querySelector(".badge");
    var reason = card.querySelector(".reason");
    title.textContent = name;
    statusText.textContent = badge ? badge.textContent : "";
    statusText.className = badge ? badge.className : "";
    reasonText.textContent = reason ? reason.textContent : "";
    var preview = link.getAttribute("data-preview");
    var thumb = link.querySelector("img");
    picture.alt = "Preview of " + name;
    picture.classList.remove("missing");
    picture.src = preview || (thumb ? thumb.src : "");
    var original = link.getAttribute("data-original");
    originalLink.hidden = !original;
    if (original) originalLink.href = original;
    if (!dialog.open) dialog.showModal();
  }

  picture.addEventListener("error", function () {
    picture.classList.add("missing");
    picture.alt = "The preview is not ready yet.";
  });

  function step(delta) {
    var links = Array.prototype.slice.call(grid.querySelectorAll("a.thumb"));
    var at = links.indexOf(opener);
    if (at < 0 || !links.length) return;
    var next = links[(at + delta + links.length) % links.length];
    show(next);
  }

  grid.addEventListener("click", function (event) {
    var link = event.target.closest("a.thumb");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    show(link);
  });

  document.getElementById("preview-close").addEventListener("click", function () {
    dialog.close();
  });
  document.getElementById("preview-prev").addEventListener("click", function () {
    step(-1);
  });
  document.getElementById("preview-next").addEventListener("click", function () {
    step(1);
  });
  dialog.addEventListener("keydown", function (event) {
    if (event.key === "ArrowLeft") step(-1);
    else if (event.key === "ArrowRight") step(1);
  });
  // A click on the backdrop (outside the dialog box) closes it too.
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) dialog.close();
  });
  // Esc closes a modal dialog natively; either way focus goes back to the thumbnail.
  dialog.addEventListener("close", function () {
    picture.removeAttribute("src");
    if (opener && document.contains(opener)) opener.focus();
  });
}
