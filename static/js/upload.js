/* Order page: resumable upload of many files and folders (tus-style, one file per upload),
 * with a queue that survives reloads and lost connections (docs/intake.md).
 *
 * Protocol (orders/uploads.py): POST {filename, size, id} opens an upload (id: a UUID chosen
 * here, so repeating the POST after a reload gives the same upload); PATCH with Upload-Offset
 * appends a chunk; GET tells the stored offset; DELETE discards it. A dropped connection is
 * retried with backoff, after asking the server where the file stands: it goes on from there,
 * never from zero. Three files travel at once.
 *
 * The queue is kept in IndexedDB (static/js/upload-store.js): each chosen file, its path, size
 * and server upload. Going offline pauses it (and says so); coming back online resumes it; a
 * reload (or a browser restart) finds this order's unfinished files and resumes them from the
 * server's offset, or, when the browser no longer has a file's bytes, offers to choose it again
 * or discard it. An upload the server no longer has (stopped as stale: 404/410) starts again
 * from zero. A file already in the queue is not queued twice. Two tabs of one order never send
 * the same file: each file is sent under a Web Lock, the other tab waits and shows the outcome.
 * When the browser cannot keep files (no room, private mode) the page says so and uploads
 * without keeping them.
 *
 * A finished upload names the image it became; the row then follows that image to intake's
 * verdict ("Ingested", "Rejected: …", "Needs review: …") from the "rkh:image-status" events
 * static/js/order.js dispatches on document whenever it learns an image's status.
 */
import { uploadQueue } from "./upload-store.js";

start();

function start() {
  var root = document.getElementById("upload");
  if (!root) return;

  var PARALLEL = 3;
  var MAX_TRIES = 8; // consecutive network failures of one file before it is marked failed
  var MAX_RESTARTS = 3; // times one file may start again from zero (the server forgot it)
  var createUrl = root.getAttribute("data-create-url");
  var csrf = root.getAttribute("data-csrf");
  var chunkBytes = parseInt(root.getAttribute("data-chunk-bytes"), 10) || 8 * 1024 * 1024;
  var scope = (root.getAttribute("data-user") || "") + " " + createUrl;

  var dropzone = document.getElementById("dropzone");
  var fileInput = document.getElementById("file-input");
  var folderInput = document.getElementById("folder-input");
  var batchBox = document.getElementById("upload-batch");
  var batchBar = document.getElementById("batch-progress");
  var batchText = document.getElementById("batch-text");
  var list = document.getElementById("upload-list");
  var retryButton = document.getElementById("retry-failed");
  var announcer = document.getElementById("upload-announce");
  var note = document.getElementById("upload-note");

  var store = uploadQueue;
  var items = [];
  var active = 0;
  var counter = 0;
  var offline = navigator.onLine === false;
  var storageNote = "";
  var wasBusy = false; // something was sent since the last "Upload finished"
  // The "Upload finished" sentence on show, kept true to the rows: intake's verdicts arrive after
  // it (a file that arrived is rejected a moment later), and it must not say "5 of 5 uploaded"
  // under a batch line that says "4 of 5 · 1 rejected".
  var finishedShown = "";
  var verdicts = {}; // image id → the newest image status seen (it may come before the upload's answer)

  /** States in which this page still has bytes to send. */
  var SENDING = { queued: true, uploading: true, paused: true };
  /** States of a file whose bytes all arrived (the verdict may still be coming). */
  var ARRIVED = { arrived: true, checking: true, ingested: true, needs_review: true, ingest_failed: true, other_tab: true };

  var queueReady = store
    ? store.open(scope).catch(function (error) {
        storageProblem(error);
        return null;
      })
    : Promise.resolve(null);
  if (!store) storageProblem(new Error("no upload queue"));

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

  function fingerprint(path, size, lastModified) {
    return path + "\u0000" + size + "\u0000" + (lastModified || 0);
  }

  function addFiles(picked) {
    var skipped = 0;
    var twice = 0;
    var added = 0;
    var queued = {};
    items.forEach(function (item) {
      if (SENDING[item.state] || item.state === "missing" || item.state === "elsewhere") {
        queued[item.fingerprint] = true;
      }
    });
    picked.forEach(function (p) {
      var base = p.path.split("/").pop();
      // System leftovers (".DS_Store", "._IMG_1.jpg", "Thumbs.db") are not photographs.
      if (base.charAt(0) === "." || /^(thumbs\.db|desktop\.ini)$/i.test(base)) {
        skipped += 1;
        return;
      }
      // The same file (path, size, date) still on its way: once is enough.
      var print = fingerprint(p.path, p.file.size, p.file.lastModified);
      if (queued[print]) {
        twice += 1;
        return;
      }
      queued[print] = true;
      var item = makeItem({
        key: newId(),
        uploadId: newId(),
        path: p.path,
        size: p.file.size,
        type: p.file.type,
        lastModified: p.file.lastModified,
        url: null,
        added: Date.now(),
      });
      item.file = p.file;
      item.state = offline ? "paused" : "queued";
      items.push(item);
      render(item);
      keep(item);
      added += 1;
    });
    var extras = [];
    if (skipped) extras.push(skipped + " system file" + (skipped === 1 ? "" : "s") + " skipped");
    if (twice) extras.push(twice + " already in the queue");
    if (!added) {
      announce(
        twice
          ? "Those files are already in the queue."
          : skipped
          ? "Only system files were chosen; nothing to upload."
          : "No files were chosen."
      );
      return;
    }
    batchBox.hidden = false;
    announce(
      (offline ? "Queued " : "Uploading ") + added + " file" + (added === 1 ? "" : "s") +
        (extras.length ? " (" + extras.join(", ") + ")" : "") + "." +
        (offline ? " They are sent when the connection is back." : "")
    );
    updateNote();
    updateBatch();
    pump();
  }

  function newId() {
    return store ? store.newId() : "";
  }

  function makeItem(record) {
    counter += 1;
    var id = "up-" + counter;
    var li = document.createElement("li");
    li.className = "upload-item";
    li.setAttribute("data-testid", "upload-item");
    var label = document.createElement("label");
    label.setAttribute("for", id);
    label.className = "name";
    label.textContent = record.path;
    label.title = record.path;
    var bar = document.createElement("progress");
    bar.id = id;
    bar.max = Math.max(1, record.size);
    bar.value = 0;
    var state = document.createElement("span");
    state.className = "state";
    state.setAttribute("data-testid", "upload-state");
    li.appendChild(label);
    li.appendChild(bar);
    li.appendChild(state);
    list.appendChild(li);
    return {
      key: record.key,
      uploadId: record.uploadId,
      path: record.path,
      size: record.size,
      type: record.type || "",
      lastModified: record.lastModified || 0,
      added: record.added || Date.now(),
      fingerprint: fingerprint(record.path, record.size, record.lastModified),
      file: null,
      url: record.url || null,
      needsSync: !!record.url,
      offset: 0,
      sent: 0,
      tries: 0,
      restarts: 0,
      conflicts: 0,
      state: "queued",
      message: "",
      persisted: false,
      saving: Promise.resolve(),
      release: null,
      abort: null,
      imageId: null,
      el: li,
      bar: bar,
      stateEl: state,
      actionsEl: null,
    };
  }

  function recordOf(item) {
    return {
      key: item.key,
      uploadId: item.uploadId,
      path: item.path,
      size: item.size,
      type: item.type,
      lastModified: item.lastModified,
      url: item.url,
      added: item.added,
    };
  }

  /* ---- keeping the queue in this browser (IndexedDB) ---------------------------------- */

  /** Store the file and its record; without room (or storage) it uploads all the same. */
  function keep(item) {
    item.saving = item.saving
      .then(function () { return queueReady; })
      .then(function (queue) {
        if (!queue) return undefined;
        return queue.put(recordOf(item), item.file).then(
          function () {
            item.persisted = true;
            updateNote(); // "kept, also if this page is reloaded"
          },
          function (error) {
            item.persisted = false;
            storageProblem(error);
          }
        );
      });
    return item.saving;
  }

  /** Record a change of a kept file's upload (its URL, a new upload id). */
  function remember(item, fields) {
    item.saving = item.saving.then(function () {
      if (!item.persisted) return undefined;
      return queueReady.then(function (queue) {
        return queue && queue.update(item.key, fields);
      }).catch(function () { /* the upload goes on; a reload would start this file again */ });
    });
    return item.saving;
  }

  /** Done with a file here (uploaded, refused or discarded): drop it from the queue. */
  function forget(item) {
    item.saving = item.saving.then(function () {
      if (!item.persisted) return undefined;
      item.persisted = false;
      return queueReady.then(function (queue) {
        return queue && queue.remove(item.key);
      }).catch(function () { /* removed after MAX_AGE_DAYS anyway */ });
    });
    return item.saving.then(function () { unlock(item); });
  }

  function storageProblem(error) {
    if (store && store.isQuotaError(error)) {
      storageNote =
        "This browser has no room left to keep the queued files, so they are sent without being " +
        "kept: if this page is closed or reloaded before they are done, choose them again.";
    } else if (!storageNote) {
      storageNote =
        "This browser does not let the page keep queued files, so uploads go on only while this " +
        "page stays open.";
    }
    updateNote();
  }

  /* ---- one tab per file (Web Locks) ---------------------------------------------------- */

  function lockItem(item, wait) {
    if (item.release) return Promise.resolve(item.release);
    if (!store) return Promise.resolve(function () {});
    return store.lock(item.key, wait).then(function (release) {
      item.release = release;
      return release;
    });
  }

  function unlock(item) {
    if (item.release) {
      var release = item.release;
      item.release = null;
      release();
    }
  }

  /** Another tab sends this file: wait for it to finish (or close), then see where it stands. */
  function waitForOtherTab(item) {
    setState(item, "elsewhere", "");
    lockItem(item, true).then(function () {
      return queueReady.then(function (queue) {
        return queue ? queue.get(item.key) : null;
      }).then(function (record) {
        if (record && item.file) {
          // The other tab stopped (closed, offline, failed): this one goes on.
          item.uploadId = record.uploadId;
          item.url = record.url || null;
          item.needsSync = !!item.url;
          item.tries = 0;
          setState(item, offline ? "paused" : "queued", "");
          pump();
          return undefined;
        }
        if (record) {
          unlock(item);
          setState(item, "missing", "");
          return undefined;
        }
        // The other tab finished with it (uploaded, refused or discarded): show the outcome.
        return outcomeElsewhere(item);
      });
    }).catch(function () {
      unlock(item);
      setState(item, "other_tab", "");
    });
  }

  function outcomeElsewhere(item) {
    var url = item.url || uploadUrl(item.uploadId);
    return jsonRequest("GET", url, undefined, item).then(
      function (data) {
        if (data.done && data.image) finish(item, data.image);
        else dropRow(item);
      },
      function () {
        dropRow(item);
      }
    ).then(function () {
      unlock(item);
      updateBatch();
    });
  }

  /* ---- sending ---------------------------------------------------------------------------- */

  function pump() {
    while (!offline && active < PARALLEL) {
      var next = items.find(function (item) { return item.state === "queued"; });
      if (!next) break;
      start(next);
    }
    if (active === 0) finished();
    updateBatch();
  }

  function start(item) {
    active += 1;
    wasBusy = true;
    finishedShown = "";
    setState(item, "uploading", "");
    lockItem(item, false)
      .then(function (release) {
        if (!release) {
          active -= 1;
          waitForOtherTab(item);
          return undefined;
        }
        return step(item)
          .catch(function (error) { setState(item, "failed", messageOf(error)); })
          .then(function () {
            active -= 1;
            // The lock stays while the file waits for the connection, and until a finished
            // file is out of the queue (forget); a failed one is free for another tab.
            if (item.state === "failed") unlock(item);
          });
      })
      .then(function () {
        updateNote();
        pump();
      });
  }

  retryButton.addEventListener("click", function () {
    var again = items.filter(function (item) { return item.state === "failed"; });
    again.forEach(function (item) {
      item.tries = 0;
      item.conflicts = 0;
      item.needsSync = !!item.url;
      setState(item, offline ? "paused" : "queued", "");
    });
    if (again.length) announce("Retrying " + again.length + " failed file" + (again.length === 1 ? "" : "s") + ".");
    pump();
  });

  /* ---- one file ---------------------------------------------------------------------------- */

  function HttpError(status, body) {
    this.status = status;
    this.body = body || {};
    this.error = (body && body.error) || {};
    this.message = this.error.message || "The server answered with an error (" + status + ").";
  }

  function NetworkError(message) {
    this.message = message || "The connection was lost.";
  }

  function messageOf(error) {
    return (error && error.message) || String(error);
  }

  function isRetryable(error) {
    return error instanceof NetworkError || (error instanceof HttpError && (error.status >= 500 || error.status === 408 || error.status === 429));
  }

  function uploadUrl(uploadId) {
    return createUrl + uploadId + "/";
  }

  function jsonRequest(method, url, body, item) {
    var headers = { Accept: "application/json", "X-CSRFToken": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    if (item) item.abort = controller ? function () { controller.abort(); } : null;
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal: controller ? controller.signal : undefined,
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
      item.abort = function () { xhr.abort(); };
      xhr.upload.onprogress = function (event) {
        item.sent = item.offset + event.loaded;
        scheduleRender(item);
      };
      function fail(error) {
        item.sent = item.offset; // what the chunk's progress showed did not arrive
        reject(error);
      }
      xhr.onload = function () {
        var data = {};
        try { data = JSON.parse(xhr.responseText || "{}"); } catch { data = {}; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else fail(new HttpError(xhr.status, data));
      };
      xhr.onerror = function () { fail(new NetworkError("The connection was lost.")); };
      xhr.ontimeout = function () { fail(new NetworkError("The server took too long to answer.")); };
      xhr.onabort = function () { fail(new NetworkError("The connection was lost.")); };
      xhr.send(blob);
    });
  }

  function wait(ms) {
    return new Promise(function (resolve) {
      var timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        window.removeEventListener("online", done);
        window.removeEventListener("offline", done);
        resolve();
      }
      window.addEventListener("online", done); // back online: go at once
      window.addEventListener("offline", done); // gone: pause now, not after the delay
    });
  }

  /** After a failure: wait (1 s, 2 s, 4 s … 30 s, with jitter), or give up after MAX_TRIES. */
  function backoff(item, error) {
    item.tries += 1;
    if (item.tries > MAX_TRIES) throw error;
    var delay = Math.min(30000, 1000 * Math.pow(2, item.tries - 1)) * (0.75 + Math.random() * 0.5);
    setState(item, "uploading", "connection lost, trying again in " + Math.ceil(delay / 1000) + " s");
    return wait(delay);
  }

  /** The server no longer has this upload (stopped as stale, cleaned up): send the file again. */
  function startOver(item) {
    item.restarts += 1;
    if (item.restarts > MAX_RESTARTS) {
      throw new Error("The server stopped this upload several times; use “Retry failed” to try again.");
    }
    item.url = null;
    item.needsSync = false;
    item.uploadId = newId();
    item.offset = item.sent = 0;
    remember(item, { url: null, uploadId: item.uploadId });
  }

  /** Take the server's word on the upload: false to go on, true when it is complete. */
  function adopt(item, data) {
    if (data.status === "aborted") {
      startOver(item);
      return false;
    }
    if (data.done) {
      finish(item, data.image);
      return true;
    }
    item.offset = item.sent = data.offset;
    if (data.chunk_size) item.chunk = data.chunk_size;
    return false;
  }

  /** Ask the server where the upload stands. Resolves true when it is already complete. */
  function resync(item) {
    return jsonRequest("GET", item.url, undefined, item).then(
      function (data) { return adopt(item, data); },
      function (error) {
        if (error instanceof HttpError && (error.status === 404 || error.status === 410)) {
          startOver(item); // the server forgot it: start this file again
          return false;
        }
        throw error;
      }
    );
  }

  function open(item) {
    var body = { filename: item.path, size: item.size };
    if (item.uploadId) body.id = item.uploadId; // repeating this POST gives the same upload
    return jsonRequest("POST", createUrl, body, item).then(function (data) {
      var url = data.location || uploadUrl(data.id);
      if (url !== item.url) {
        item.url = url;
        remember(item, { url: url });
      }
      return adopt(item, data);
    });
  }

  function step(item) {
    if (item.state !== "uploading") return Promise.resolve();
    var action;
    if (!item.url) action = open(item);
    else if (item.needsSync) action = resync(item);
    else action = sendNext(item);
    return action.then(
      function (complete) {
        item.needsSync = false;
        item.abort = null;
        if (complete || item.state !== "uploading") return undefined;
        return step(item);
      },
      function (error) {
        item.abort = null;
        if (error instanceof NetworkError && (offline || navigator.onLine === false)) {
          item.needsSync = !!item.url; // went offline: wait for the connection, uncounted
          setState(item, "paused", "");
          return undefined;
        }
        if (isRetryable(error)) {
          return backoff(item, error).then(function () {
            item.needsSync = !!item.url;
            return step(item);
          });
        }
        var code = error instanceof HttpError ? error.error.code : "";
        if (error instanceof HttpError && error.status === 409 && code === "offset_mismatch") {
          item.conflicts += 1;
          if (item.conflicts <= MAX_TRIES) {
            item.needsSync = true; // a lost response or another tab moved it: re-sync
            return step(item);
          }
        }
        if (
          error instanceof HttpError &&
          (code === "upload_id_taken" || (item.url && (error.status === 404 || error.status === 410)))
        ) {
          startOver(item); // the upload is gone (or the id clashed): send the file again
          return step(item);
        }
        // Refused (empty, too large, the order closed…): retrying will not help.
        var refused =
          error instanceof HttpError &&
          (code === "order_closed" || (!item.url && [400, 409, 413].indexOf(error.status) >= 0));
        if (refused) {
          setState(item, "rejected", error.message);
          forget(item);
        } else {
          setState(item, "failed", error.message);
        }
        return undefined;
      }
    );
  }

  function sendNext(item) {
    var size = item.chunk || chunkBytes;
    var end = Math.min(item.offset + size, item.size);
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

  /** All bytes are in: follow the image the file became to intake's verdict. */
  function finish(item, image) {
    item.offset = item.sent = item.size;
    forget(item);
    if (image && typeof image.id === "number") {
      item.imageId = image.id;
      var seen = verdicts[image.id];
      applyVerdict(item, seen && seen.status !== "uploaded" ? seen : image);
    } else {
      setState(item, "arrived", ""); // complete, but its image is gone (removed meanwhile)
    }
    document.dispatchEvent(new CustomEvent("rkh:upload-finished")); // static/js/order.js looks again
  }

  function applyVerdict(item, image) {
    var reason = image.status_reason || "";
    switch (image.status) {
      case "uploaded":
        setState(item, "checking", "");
        break;
      case "rejected":
        setState(item, "rejected", reason || "refused by intake.");
        break;
      case "needs_review":
        setState(item, "needs_review", reason || "a person looks at it.");
        break;
      case "failed":
        setState(item, "ingest_failed", reason || "it could not be read.");
        break;
      default: // ingested, and anything after it (analyzed, processed, synced)
        setState(item, "ingested", "");
    }
  }

  // order.js tells every image status it learns (live messages, the images endpoint).
  document.addEventListener("rkh:image-status", function (event) {
    var image = event.detail;
    if (!image || typeof image.id !== "number") return;
    verdicts[image.id] = image;
    items.forEach(function (item) {
      if (item.imageId === image.id && item.state === "checking") {
        applyVerdict(item, image);
        updateBatch();
      }
    });
  });

  /* ---- offline and back --------------------------------------------------------------- */

  window.addEventListener("offline", function () {
    offline = true;
    items.forEach(function (item) {
      if (item.state === "queued") setState(item, "paused", "");
      // A request in flight would hang or fail later: stop it now; the file waits.
      if (item.state === "uploading" && item.abort) item.abort();
    });
    updateNote();
    if (items.some(function (item) { return SENDING[item.state]; })) {
      announce("The connection is gone: uploads wait and go on when it is back.");
    }
    updateBatch();
  });

  window.addEventListener("online", function () {
    offline = false;
    var resumed = 0;
    items.forEach(function (item) {
      if (item.state === "paused") {
        item.needsSync = !!item.url;
        item.tries = 0;
        setState(item, "queued", "");
        resumed += 1;
      }
    });
    updateNote();
    if (resumed) announce("The connection is back: uploading " + resumed + " waiting file" + (resumed === 1 ? "" : "s") + ".");
    pump();
  });

  /* ---- after a reload: this order's unfinished files ------------------------------------ */

  function restore(queue) {
    if (!queue) return undefined;
    return queue.list().then(function (records) {
      var known = {};
      items.forEach(function (item) { known[item.key] = true; });
      // Not the files this page queued a moment ago: only those from before the reload.
      records = records.filter(function (record) { return !known[record.key]; });
      if (!records.length) return undefined;
      var restored = records.map(function (record) {
        var item = makeItem(record);
        item.persisted = true;
        item.state = "restoring";
        items.push(item);
        render(item);
        return item;
      });
      batchBox.hidden = false;
      updateBatch();
      return Promise.all(
        restored.map(function (item) {
          return readable(queue, item).then(function (file) {
            item.file = file;
            if (!file) {
              // The browser dropped the bytes (storage cleared or evicted): ask the person.
              return lockItem(item, false).then(function (release) {
                if (release) setState(item, "missing", "");
                else waitForOtherTab(item);
              });
            }
            setState(item, offline ? "paused" : "queued", "");
            return undefined;
          });
        })
      ).then(function () {
        var n = restored.length;
        announce(
          n + " unfinished upload" + (n === 1 ? "" : "s") + " of this order found in this browser" +
            (offline ? "; they go on when the connection is back." : "; going on from where the server has them.")
        );
        updateNote();
        pump();
      });
    });
  }

  /** The kept file, if the browser can still read it; null otherwise. */
  function readable(queue, item) {
    return queue
      .getBlob(item.key)
      .then(function (blob) {
        if (!blob || blob.size !== item.size) return null;
        // Reading one byte shows whether the bytes are really there.
        return blob.slice(0, 1).arrayBuffer().then(function () { return blob; });
      })
      .catch(function () { return null; });
  }

  queueReady.then(restore).catch(function () { /* nothing kept, nothing to resume */ });

  /* ---- a kept file whose bytes are gone: choose it again, or discard it -------------------- */

  function missingActions(item) {
    var box = document.createElement("span");
    box.className = "row-actions";
    var input = document.createElement("input");
    input.type = "file";
    input.className = "visually-hidden";
    input.tabIndex = -1;
    input.setAttribute("aria-label", "Choose " + item.path + " again");
    var choose = document.createElement("button");
    choose.type = "button";
    choose.className = "button";
    choose.textContent = "Choose the file again…";
    choose.addEventListener("click", function () { input.click(); });
    input.addEventListener("change", function () {
      var file = input.files[0];
      input.value = "";
      if (file) reattach(item, file);
    });
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "button";
    discard.textContent = "Discard";
    discard.addEventListener("click", function () { discardItem(item); });
    box.appendChild(choose);
    box.appendChild(discard);
    box.appendChild(input);
    return box;
  }

  function reattach(item, file) {
    if (file.size !== item.size) {
      setState(item, "missing", "“" + file.name + "” is not the same file (another size).");
      return;
    }
    var sameFile = !item.lastModified || file.lastModified === item.lastModified;
    item.file = file;
    item.type = file.type;
    if (!sameFile && item.url) {
      // It may have changed since: do not append its bytes to the old ones.
      var old = item.url;
      jsonRequest("DELETE", old).catch(function () {});
      startOver(item);
      item.restarts = 0;
    }
    item.lastModified = file.lastModified;
    item.fingerprint = fingerprint(item.path, item.size, item.lastModified);
    item.needsSync = !!item.url;
    item.tries = 0;
    item.persisted = false;
    keep(item);
    setState(item, offline ? "paused" : "queued", "");
    announce("Going on with " + item.path + ".");
    pump();
  }

  function discardItem(item) {
    var url = item.url || uploadUrl(item.uploadId);
    // Stop the server's upload too, or the order would wait for it until it goes stale.
    jsonRequest("DELETE", url).catch(function () { /* never made, or gone already */ });
    forget(item);
    dropRow(item);
    announce("Discarded " + item.path + ".");
    updateBatch();
    finished();
  }

  function dropRow(item) {
    var at = items.indexOf(item);
    if (at >= 0) items.splice(at, 1);
    item.el.remove();
    if (!items.length) batchBox.hidden = true;
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

  function percent(item) {
    return item.size ? Math.floor((100 * item.sent) / item.size) : 0;
  }

  function render(item) {
    var text;
    switch (item.state) {
      case "restoring":
        text = "Looking for this file in the browser…";
        break;
      case "queued":
        text = "Queued";
        break;
      case "uploading":
        text = "Uploading " + percent(item) + "%";
        if (item.message) text += " (" + item.message + ")";
        break;
      case "paused":
        text = "Waiting for the connection" + (item.sent ? " (" + percent(item) + "% sent)" : "");
        break;
      case "elsewhere":
        text = "Uploading in another tab of this order";
        break;
      case "missing":
        text = item.message || "This browser no longer has the file: choose it again to go on, or discard it.";
        break;
      case "checking":
        text = "Uploaded, checking…";
        break;
      case "arrived":
        text = "Uploaded";
        break;
      case "ingested":
        text = "Ingested";
        break;
      case "needs_review":
        text = "Needs review: " + item.message;
        break;
      case "rejected":
        text = "Rejected: " + item.message;
        break;
      case "ingest_failed":
        text = "Could not be ingested: " + item.message;
        break;
      case "other_tab":
        text = "Handled in another tab";
        break;
      default:
        text = "Upload failed: " + item.message;
    }
    item.el.setAttribute("data-state", item.state);
    item.bar.value = ARRIVED[item.state] || item.state === "rejected" ? item.bar.max : item.sent;
    if (item.stateEl.textContent !== text) item.stateEl.textContent = text;
    if (item.state === "missing" && !item.actionsEl) {
      item.actionsEl = missingActions(item);
      item.el.appendChild(item.actionsEl);
    } else if (item.state !== "missing" && item.actionsEl) {
      item.actionsEl.remove();
      item.actionsEl = null;
    }
  }

  function counts() {
    var c = { total: items.length, uploaded: 0, rejected: 0, failed: 0, waiting: 0, missing: 0, bytes: 0, sent: 0 };
    items.forEach(function (item) {
      c.bytes += item.size;
      if (ARRIVED[item.state] || item.state === "rejected") c.sent += item.size;
      else c.sent += item.sent;
      if (ARRIVED[item.state]) c.uploaded += 1;
      else if (item.state === "rejected") c.rejected += 1;
      else if (item.state === "failed") c.failed += 1;
      else if (item.state === "paused") c.waiting += 1;
      else if (item.state === "missing") c.missing += 1;
    });
    return c;
  }

  function summary(c) {
    var text = c.uploaded + " of " + c.total + " file" + (c.total === 1 ? "" : "s") + " uploaded";
    if (c.rejected) text += " · " + c.rejected + " rejected";
    if (c.failed) text += " · " + c.failed + " failed";
    if (c.waiting) text += " · " + c.waiting + " waiting for the connection";
    if (c.missing) text += " · " + c.missing + " to choose again";
    return text;
  }

  var lastAnnounce = 0;
  function updateBatch() {
    var c = counts();
    batchBar.max = Math.max(1, c.bytes);
    batchBar.value = c.sent;
    batchText.textContent = c.total ? summary(c) : "";
    retryButton.hidden = c.failed === 0;
    updateNote();
    if (!active && finishedShown && finishedShown !== finishedMessage(c)) {
      finishedShown = finishedMessage(c); // a verdict changed the counts: say them again
      announce(finishedShown);
    }
    // The live region speaks at most every 5 s while files travel, not once per file.
    if (active && Date.now() - lastAnnounce > 5000) {
      lastAnnounce = Date.now();
      announce(summary(c) + ".");
    }
  }

  function updateNote() {
    if (!note) return;
    var waiting = items.filter(function (item) { return SENDING[item.state]; });
    var unkept = waiting.some(function (item) { return !item.persisted; });
    var text = "";
    if (offline && waiting.length) {
      text =
        "You are offline. " + waiting.length + " file" + (waiting.length === 1 ? " waits" : "s wait") +
        " and will be sent when the connection is back" +
        (unkept ? " (keep this page open)." : ", also if this page is reloaded.");
    } else if (offline) {
      text = "You are offline. Files you add now are sent when the connection is back.";
    }
    if (storageNote && items.length) text = text ? text + " " + storageNote : storageNote;
    if (note.textContent !== text) note.textContent = text;
    note.hidden = !text;
    note.setAttribute("data-kind", offline ? "offline" : "storage");
  }

  function finished() {
    var busy = items.some(function (item) {
      return SENDING[item.state] || item.state === "restoring" || item.state === "elsewhere";
    });
    if (busy || !wasBusy || !items.length) return;
    wasBusy = false;
    finishedShown = finishedMessage(counts());
    updateBatch();
    updateNote();
    announce(finishedShown);
    lastAnnounce = Date.now();
  }

  function finishedMessage(c) {
    return "Upload finished: " + summary(c) + "." + (c.failed ? " Use “Retry failed” to send the failed files again." : "");
  }

  function announce(text) {
    // Clearing first makes screen readers repeat a message that did not change.
    announcer.textContent = "";
    setTimeout(function () { announcer.textContent = text; }, 50);
  }

  window.addEventListener("beforeunload", function (event) {
    // Files kept in this browser go on after a reload; only unkept ones would be lost.
    var losing = items.some(function (item) { return SENDING[item.state] && !item.persisted; });
    if (losing) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  updateNote();
}
