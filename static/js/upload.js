/* Order page: resumable upload of many files and folders (tus-style, one file per upload).
 *
 * Protocol (orders/uploads.py): POST {filename, size} opens an upload; PATCH with
 * Upload-Offset appends a chunk; GET tells the stored offset. A dropped connection is
 * retried with backoff, after asking the server where the file stands: it goes on from
 * there, never from zero. Three files travel at once.
 */
(function () {
  "use strict";

  var root = document.getElementById("upload");
  if (!root) return;

  var PARALLEL = 3;
  var MAX_TRIES = 8; // consecutive network failures of one file before it is marked failed
  var createUrl = root.getAttribute("data-create-url");
  var csrf = root.getAttribute("data-csrf");
  var chunkBytes = parseInt(root.getAttribute("data-chunk-bytes"), 10) || 8 * 1024 * 1024;

  var dropzone = document.getElementById("dropzone");
  var fileInput = document.getElementById("file-input");
  var folderInput = document.getElementById("folder-input");
  var batchBox = document.getElementById("upload-batch");
  var batchBar = document.getElementById("batch-progress");
  var batchText = document.getElementById("batch-text");
  var list = document.getElementById("upload-list");
  var retryButton = document.getElementById("retry-failed");
  var announcer = document.getElementById("upload-announce");

  var RKH = (window.RKH = window.RKH || {});
  var items = [];
  var active = 0;
  var counter = 0;

  RKH.uploadsActive = function () {
    return active > 0 || items.some(function (item) { return item.state === "queued"; });
  };

  /* ---- picking and dropping ------------------------------------------------------- */

  document.getElementById("pick-files").addEventListener("click", function () {
    fileInput.click();
  });
  document.getElementById("pick-folder").addEventListener("click", function () {
    folderInput.click();
  });

  function fromInput(input) {
    var picked = Array.prototype.map.call(input.files, function (file) {
      return { file: file, path: file.webkitRelativePath || file.name };
    });
    input.value = ""; // choosing the same files again fires "change" again
    addFiles(picked);
  }
  fileInput.addEventListener("change", function () { fromInput(fileInput); });
  folderInput.addEventListener("change", function () { fromInput(folderInput); });

  ["dragenter", "dragover"].forEach(function (type) {
    dropzone.addEventListener(type, function (event) {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
      dropzone.classList.add("dragging");
    });
  });
  dropzone.addEventListener("dragleave", function (event) {
    if (!dropzone.contains(event.relatedTarget)) dropzone.classList.remove("dragging");
  });
  dropzone.addEventListener("drop", function (event) {
    event.preventDefault();
    dropzone.classList.remove("dragging");
    filesFromDataTransfer(event.dataTransfer).then(addFiles, function (error) {
      announce("Could not read the dropped files: " + error.message);
    });
  });
  // A file dropped beside the zone must not make the browser leave the page.
  window.addEventListener("dragover", function (event) { event.preventDefault(); });
  window.addEventListener("drop", function (event) { event.preventDefault(); });

  function filesFromDataTransfer(dt) {
    var entries = [];
    var loose = [];
    // Entries must be taken now, synchronously: the DataTransfer is emptied after the event.
    Array.prototype.forEach.call(dt.items || [], function (item) {
      if (item.kind !== "file") return;
      var entry = typeof item.webkitGetAsEntry === "function" ? item.webkitGetAsEntry() : null;
      if (entry) entries.push(entry);
      else {
        var file = item.getAsFile();
        if (file) loose.push({ file: file, path: file.name });
      }
    });
    if (!entries.length && !loose.length) {
      Array.prototype.forEach.call(dt.files || [], function (file) {
        loose.push({ file: file, path: file.name });
      });
    }
    var out = loose.slice();
    return entries
      .reduce(function (chain, entry) {
        return chain.then(function () { return walk(entry, "", out); });
      }, Promise.resolve())
      .then(function () { return out; });
  }

  function walk(entry, prefix, out) {
    if (entry.isFile) {
      return new Promise(function (resolve, reject) {
        entry.file(function (file) {
          out.push({ file: file, path: prefix + file.name });
          resolve();
        }, reject);
      });
    }
    if (!entry.isDirectory) return Promise.resolve();
    var reader = entry.createReader();
    var folder = prefix + entry.name + "/";
    // readEntries answers in batches (100 in Chromium): read until it answers empty.
    function next() {
      return new Promise(function (resolve, reject) { reader.readEntries(resolve, reject); }).then(
        function (batch) {
          if (!batch.length) return undefined;
          return batch
            .reduce(function (chain, child) {
              return chain.then(function () { return walk(child, folder, out); });
            }, Promise.resolve())
            .then(next);
        }
      );
    }
    return next();
  }

  /* ---- the queue ------------------------------------------------------------------------ */

  function addFiles(picked) {
    var skipped = 0;
    var added = 0;
    picked.forEach(function (p) {
      var base = p.path.split("/").pop();
      // System leftovers (".DS_Store", "._IMG_1.jpg", "Thumbs.db") are not photographs.
      if (base.charAt(0) === "." || /^(thumbs\.db|desktop\.ini)$/i.test(base)) {
        skipped += 1;
        return;
      }
      items.push(makeItem(p.file, p.path));
      added += 1;
    });
    if (!added) {
      announce(skipped ? "Only system files were chosen; nothing to upload." : "No files were chosen.");
      return;
    }
    batchBox.hidden = false;
    announce(
      "Uploading " + added + " file" + (added === 1 ? "" : "s") +
        (skipped ? " (" + skipped + " system file" + (skipped === 1 ? "" : "s") + " skipped)" : "") + "."
    );
    updateBatch();
    pump();
  }

  function makeItem(file, path) {
    counter += 1;
    var id = "up-" + counter;
    var li = document.createElement("li");
    li.className = "upload-item";
    li.setAttribute("data-state", "queued");
    li.setAttribute("data-testid", "upload-item");
    var label = document.createElement("label");
    label.setAttribute("for", id);
    label.className = "name";
    label.textContent = path;
    label.title = path;
    var bar = document.createElement("progress");
    bar.id = id;
    bar.max = Math.max(1, file.size);
    bar.value = 0;
    var state = document.createElement("span");
    state.className = "state";
    state.setAttribute("data-testid", "upload-state");
    li.appendChild(label);
    li.appendChild(bar);
    li.appendChild(state);
    list.appendChild(li);
    var item = {
      file: file,
      path: path,
      url: null,
      offset: 0,
      sent: 0,
      tries: 0,
      state: "queued",
      message: "",
      el: li,
      bar: bar,
      stateEl: state,
    };
    render(item);
    return item;
  }

  function pump() {
    while (active < PARALLEL) {
      var next = items.find(function (item) { return item.state === "queued"; });
      if (!next) break;
      start(next);
    }
    if (active === 0) finished();
  }

  function start(item) {
    active += 1;
    item.state = "uploading";
    run(item)
      .catch(function (error) { setState(item, "failed", error.message || String(error)); })
      .then(function () {
        active -= 1;
        updateBatch();
        pump();
      });
  }

  retryButton.addEventListener("click", function () {
    var again = items.filter(function (item) { return item.state === "failed"; });
    again.forEach(function (item) {
      item.tries = 0;
      setState(item, "queued", "");
    });
    if (again.length) announce("Retrying " + again.length + " failed file" + (again.length === 1 ? "" : "s") + ".");
    updateBatch();
    pump();
  });

  /* ---- one file ---------------------------------------------------------------------------- */

  function HttpError(status, body) {
    this.status = status;
    this.body = body || {};
    this.error = (body && body.error) || {};
    this.message = this.error.message || "HTTP " + status;
  }

  function NetworkError(message) {
    this.message = message || "network error";
  }

  function isRetryable(error) {
    return error instanceof NetworkError || (error instanceof HttpError && (error.status >= 500 || error.status === 408 || error.status === 429));
  }

  function jsonRequest(method, url, body) {
    var headers = { Accept: "application/json", "X-CSRFToken": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    }).then(
      function (response) {
        return response
          .json()
          .catch(function () { return {}; })
          .then(function (data) {
            if (!response.ok) throw new HttpError(response.status, data);
            data.location = response.headers.get("Location");
            return data;
          });
      },
      function (error) { throw new NetworkError(error.message); }
    );
  }

  function patchChunk(item, blob) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("PATCH", item.url);
      xhr.setRequestHeader("Upload-Offset", String(item.offset));
      xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.timeout = 5 * 60 * 1000;
      xhr.upload.onprogress = function (event) {
        item.sent = item.offset + event.loaded;
        scheduleRender(item);
      };
      xhr.onload = function () {
        var data = {};
        try { data = JSON.parse(xhr.responseText || "{}"); } catch (e) { data = {}; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(new HttpError(xhr.status, data));
      };
      xhr.onerror = function () { reject(new NetworkError("connection lost")); };
      xhr.ontimeout = function () { reject(new NetworkError("timed out")); };
      xhr.onabort = function () { reject(new NetworkError("aborted")); };
      xhr.send(blob);
    });
  }

  function wait(ms) {
    return new Promise(function (resolve) {
      var timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        window.removeEventListener("online", done);
        resolve();
      }
      window.addEventListener("online", done); // back online: go at once
    });
  }

  /** After a failure: wait (1 s, 2 s, 4 s … 30 s, with jitter), or give up after MAX_TRIES. */
  function backoff(item, error) {
    item.tries += 1;
    if (item.tries > MAX_TRIES) throw error;
    var delay = Math.min(30000, 1000 * Math.pow(2, item.tries - 1)) * (0.75 + Math.random() * 0.5);
    setState(item, "uploading", "connection lost, resuming in " + Math.ceil(delay / 1000) + " s");
    return wait(delay);
  }

  /** Ask the server where the upload stands. Resolves true when it is already complete. */
  function resync(item) {
    return jsonRequest("GET", item.url).then(
      function (data) {
        if (data.status === "aborted") {
          item.url = null; // stopped on the server (cleaned up): this file starts again
          item.offset = item.sent = 0;
          return false;
        }
        item.offset = data.offset;
        item.sent = data.offset;
        if (data.done) {
          finish(item, data.image);
          return true;
        }
        return false;
      },
      function (error) {
        if (error instanceof HttpError && (error.status === 404 || error.status === 410)) {
          item.url = null; // the server forgot it: start this file again
          item.offset = item.sent = 0;
          return false;
        }
        throw error;
      }
    );
  }

  function open(item) {
    return jsonRequest("POST", createUrl, { filename: item.path, size: item.file.size }).then(function (data) {
      item.url = data.location || createUrl + data.id + "/";
      item.offset = data.offset;
      item.sent = data.offset;
      if (data.chunk_size) item.chunk = data.chunk_size;
    });
  }

  function run(item) {
    setState(item, "uploading", "");
    return step(item).then(function () { return item; });
  }

  function step(item) {
    if (item.state !== "uploading") return Promise.resolve();
    var action;
    if (!item.url) action = open(item).then(function () { return false; });
    else if (item.needsSync) action = resync(item);
    else action = sendNext(item);
    return action.then(
      function (complete) {
        item.needsSync = false;
        if (complete || item.state !== "uploading") return undefined;
        return step(item);
      },
      function (error) {
        if (isRetryable(error)) {
          return backoff(item, error).then(function () {
            item.needsSync = !!item.url;
            return step(item);
          });
        }
        if (error instanceof HttpError && error.status === 409 && error.error.code === "offset_mismatch") {
          item.conflicts = (item.conflicts || 0) + 1;
          if (item.conflicts <= MAX_TRIES) {
            item.needsSync = true; // a lost response or another tab moved it: re-sync
            return step(item);
          }
        }
        if (error instanceof HttpError && error.status === 410) {
          item.url = null;
          item.offset = item.sent = 0;
        }
        // Refused when opening (empty, too large, order closed…): retrying will not help.
        var refused = error instanceof HttpError && !item.url && [400, 409, 413].indexOf(error.status) >= 0;
        setState(item, refused ? "rejected" : "failed", error.message);
        return undefined;
      }
    );
  }

  function sendNext(item) {
    var size = item.chunk || chunkBytes;
    var end = Math.min(item.offset + size, item.file.size);
    return patchChunk(item, item.file.slice(item.offset, end)).then(function (data) {
      item.tries = 0;
      item.conflicts = 0;
      item.offset = data.offset;
      item.sent = data.offset;
      scheduleRender(item);
      if (data.done) {
        finish(item, data.image);
        return true;
      }
      return false;
    });
  }

  function finish(item, image) {
    item.offset = item.sent = item.file.size;
    if (image && image.status === "rejected") setState(item, "rejected", image.status_reason);
    else setState(item, "done", "");
    if (RKH.refreshImages) RKH.refreshImages();
  }

  /* ---- showing it ------------------------------------------------------------------------------ */

  function setState(item, state, message) {
    item.state = state;
    item.message = message || "";
    render(item);
  }

  var dirty = new Set();
  var frame = null;
  function scheduleRender(item) {
    dirty.add(item);
    if (!frame) {
      frame = requestAnimationFrame(function () {
        frame = null;
        dirty.forEach(render);
        dirty.clear();
        updateBatch();
      });
    }
  }

  function render(item) {
    var text;
    var size = item.file.size;
    switch (item.state) {
      case "queued":
        text = "queued";
        break;
      case "uploading":
        text = "uploading " + (size ? Math.floor((100 * item.sent) / size) : 0) + "%";
        if (item.message) text += " (" + item.message + ")";
        break;
      case "done":
        text = "done";
        break;
      case "rejected":
        text = "rejected: " + item.message;
        break;
      default:
        text = "failed: " + item.message;
    }
    item.el.setAttribute("data-state", item.state);
    item.bar.value = item.state === "done" || item.state === "rejected" ? item.bar.max : item.sent;
    if (item.stateEl.textContent !== text) item.stateEl.textContent = text;
  }

  function counts() {
    var c = { total: items.length, done: 0, rejected: 0, failed: 0, bytes: 0, sent: 0 };
    items.forEach(function (item) {
      c.bytes += item.file.size;
      if (item.state === "done" || item.state === "rejected") c.sent += item.file.size;
      else c.sent += item.sent;
      if (item.state === "done") c.done += 1;
      else if (item.state === "rejected") c.rejected += 1;
      else if (item.state === "failed") c.failed += 1;
    });
    return c;
  }

  function summary(c) {
    var text = c.done + " of " + c.total + " file" + (c.total === 1 ? "" : "s") + " uploaded";
    if (c.rejected) text += " · " + c.rejected + " rejected";
    if (c.failed) text += " · " + c.failed + " failed";
    return text;
  }

  var lastAnnounce = 0;
  function updateBatch() {
    var c = counts();
    batchBar.max = Math.max(1, c.bytes);
    batchBar.value = c.sent;
    batchText.textContent = summary(c);
    retryButton.hidden = c.failed === 0;
    // The live region speaks at most every 5 s while files travel, not once per file.
    if (active && Date.now() - lastAnnounce > 5000) {
      lastAnnounce = Date.now();
      announce(summary(c) + ".");
    }
  }

  function finished() {
    if (!items.length) return;
    var c = counts();
    updateBatch();
    var left = c.total - c.done - c.rejected - c.failed;
    if (left === 0) {
      announce("Upload finished: " + summary(c) + "." + (c.failed ? " Use “Retry failed” to send the failed files again." : ""));
      lastAnnounce = Date.now();
    }
  }

  function announce(text) {
    // Clearing first makes screen readers repeat a message that did not change.
    announcer.textContent = "";
    setTimeout(function () { announcer.textContent = text; }, 50);
  }

  window.addEventListener("beforeunload", function (event) {
    if (RKH.uploadsActive()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
