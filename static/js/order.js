/* Order page: image grid refresh (polling while something is pending) and the preview dialog.
 *
 * Works without this script: thumbnails are links to the preview, the page shows the
 * statuses it was rendered with. With it, the grid follows ingest as it happens and a
 * thumbnail opens a dialog (Esc closes it and focus returns to the thumbnail).
 */
(function () {
  "use strict";

  var section = document.getElementById("images");
  if (!section) return;
  var grid = document.getElementById("image-grid");
  var imagesUrl = section.getAttribute("data-images-url");
  var lastId = parseInt(section.getAttribute("data-last-id") || "0", 10) || 0;
  var appendNew = section.getAttribute("data-append") === "1";

  var RKH = (window.RKH = window.RKH || {});

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (attrs[key] !== null && attrs[key] !== undefined) node.setAttribute(key, attrs[key]);
    });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  /* ---- grid ------------------------------------------------------------------ */

  /** What the card shows; the same string as the template's data-sig. */
  function signature(img) {
    return img.status + "|" + (img.thumbnail_url || "");
  }

  function buildCard(img) {
    var li = el("li", {
      class: "card",
      id: "image-" + img.id,
      "data-id": img.id,
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
    li.appendChild(body);
    return li;
  }

  function applyImage(img) {
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
    if (!appendNew) return true;
    grid.appendChild(buildCard(img));
    var none = document.getElementById("no-images");
    if (none) none.hidden = true;
    return true;
  }

  function setText(id, text) {
    var node = document.getElementById(id);
    if (node) node.textContent = text;
  }

  function setBar(id, value, max) {
    var bar = document.getElementById(id);
    if (!bar) return;
    bar.max = Math.max(1, max);
    bar.value = value;
  }

  function applyOrder(o) {
    setText("images-count", "(" + o.total + ")");
    setText("ingested-text", o.ingested + "/" + o.total);
    setText("processed-text", o.processed + "/" + o.total);
    setBar("progress-ingested", o.ingested, o.total);
    setBar("progress-processed", o.processed, o.total);
    setText("progress-extra", o.waiting + " waiting · " + o.rejected + " rejected · " + o.failed + " failed");
    var badge = document.getElementById("order-status");
    if (badge && badge.textContent !== o.status_label) {
      badge.textContent = o.status_label;
      badge.className = "badge status-" + o.status;
    }
  }

  /* ---- timeline ------------------------------------------------------------------ */

  var timeline = document.getElementById("timeline");
  var lastSeq = timeline ? parseInt(timeline.getAttribute("data-last-seq") || "0", 10) || 0 : 0;
  var TIMELINE_MAX = 100;

  function applyTimeline(entries) {
    if (!timeline || !entries.length) return false;
    // Entries come newest first; insert oldest first at the top so the newest ends up first.
    entries
      .slice()
      .reverse()
      .forEach(function (entry) {
        if (entry.seq <= lastSeq) return;
        lastSeq = entry.seq;
        var li = el("li", { "data-seq": entry.seq });
        li.appendChild(el("span", { class: "seq" }, "#" + entry.seq));
        li.appendChild(document.createTextNode(" "));
        li.appendChild(el("span", { class: "what" }, entry.text));
        var meta = el("span", { class: "meta" });
        meta.appendChild(el("time", { datetime: entry.at }, entry.at_label));
        if (entry.actor) meta.appendChild(document.createTextNode(" · " + entry.actor));
        li.appendChild(meta);
        timeline.insertBefore(li, timeline.firstChild);
      });
    while (timeline.children.length > TIMELINE_MAX) timeline.removeChild(timeline.lastChild);
    return true;
  }

  /* ---- polling ------------------------------------------------------------------ */

  var FAST = 2000;
  var SLOW = 15000;
  var GIVE_UP_AFTER = 10 * 60 * 1000; // no change for this long: stop, a reload resumes
  var timer = null;
  var interval = FAST;
  var lastChange = Date.now();
  var inFlight = false;

  function pendingIds() {
    var ids = [];
    grid.querySelectorAll(".card[data-pending]").forEach(function (card) {
      ids.push(card.getAttribute("data-id"));
    });
    return ids.slice(0, 500);
  }

  function schedule(delay) {
    if (timer) clearTimeout(timer);
    timer = setTimeout(poll, delay);
  }

  function poll() {
    timer = null;
    if (inFlight) return;
    inFlight = true;
    var ids = pendingIds();
    var url =
      imagesUrl + "?after=" + lastId + "&seq=" + lastSeq + (ids.length ? "&ids=" + ids.join(",") : "");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        var changed = false;
        data.images.forEach(function (img) {
          if (applyImage(img)) changed = true;
        });
        applyOrder(data.order);
        if (applyTimeline(data.timeline || [])) changed = true;
        if (changed) {
          lastChange = Date.now();
          interval = FAST;
        } else {
          interval = Math.min(SLOW, Math.round(interval * 1.3));
        }
        var busy = RKH.uploadsActive && RKH.uploadsActive();
        var waiting = data.order.waiting > 0 || pendingIds().length > 0;
        if (busy || (waiting && Date.now() - lastChange < GIVE_UP_AFTER)) schedule(interval);
      })
      .catch(function () {
        interval = SLOW;
        if (Date.now() - lastChange < GIVE_UP_AFTER) schedule(interval);
      })
      .then(function () {
        inFlight = false;
      });
  }

  /** Called by the uploader when a file is in: look again soon. */
  RKH.refreshImages = function () {
    lastChange = Date.now();
    interval = FAST;
    if (!inFlight) schedule(300);
  };

  if (pendingIds().length) schedule(FAST);

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
})();
