/* Order page: the upload queue kept in this browser (IndexedDB), so queued and half-sent files
 * survive a reload, a closed tab or a lost connection (static/js/upload.js uses it).
 *
 * Two object stores in the database "rkh-uploads":
 *   - "uploads": one small record per queued file: {key, scope, name (its path in the folder),
 *     size, type, lastModified, uploadId (the server upload's id, chosen here), url (once the
 *     server made it), added};  index "scope" (the signed-in user + the order's upload URL, so
 *     a second person on the same browser never sees, or sends, someone else's files);
 *   - "blobs": the file itself under the same key, apart, so that updating a record (its url,
 *     a new upload id) never writes the file's bytes again.
 * Entries are removed as soon as their file is uploaded or refused; entries nobody came back
 * for are removed after MAX_AGE_DAYS.
 *
 * uploadQueue.open(scope) → Promise of a queue (rejects where IndexedDB cannot be used:
 * the page then uploads without keeping anything). uploadQueue.lock(name, wait) holds a
 * Web Lock so two tabs of one order never send the same file (see upload.js).
 */

var DB_NAME = "rkh-uploads";
var DB_VERSION = 1;
var RECORDS = "uploads";
var BLOBS = "blobs";
var MAX_AGE_DAYS = 14;

function openDb() {
  return new Promise(function (resolve, reject) {
    if (!window.indexedDB) {
      reject(new Error("IndexedDB is not available in this browser"));
      return;
    }
    var request;
    try {
      request = window.indexedDB.open(DB_NAME, DB_VERSION);
    } catch (error) {
      reject(error); // e.g. storage switched off
      return;
    }
    request.onupgradeneeded = function () {
      var db = request.result;
      if (!db.objectStoreNames.contains(RECORDS)) {
        db.createObjectStore(RECORDS, { keyPath: "key" }).createIndex("scope", "scope");
      }
      if (!db.objectStoreNames.contains(BLOBS)) db.createObjectStore(BLOBS);
    };
    request.onsuccess = function () {
      var db = request.result;
      // A newer version of the page wants to upgrade: let it (this page reloads later).
      db.onversionchange = function () {
        db.close();
      };
      resolve(db);
    };
    request.onerror = function () {
      reject(request.error || new Error("IndexedDB could not be opened"));
    };
    request.onblocked = function () {
      reject(new Error("IndexedDB is busy in another tab"));
    };
  });
}

/** Run work(stores) in one transaction; resolves with what work's last request gave. */
function transact(db, mode, work) {
  return new Promise(function (resolve, reject) {
    var tx;
    try {
      tx = db.transaction([RECORDS, BLOBS], mode);
    } catch (error) {
      reject(error);
      return;
    }
    var result;
    tx.oncomplete = function () {
      resolve(result);
    };
    // A full disk shows as a QuotaExceededError on the transaction.
    tx.onabort = function () {
      reject(tx.error || new DOMException("The transaction was aborted", "AbortError"));
    };
    try {
      var request = work(tx.objectStore(RECORDS), tx.objectStore(BLOBS));
      if (request) {
        request.onsuccess = function () {
          result = request.result;
        };
      }
    } catch (error) {
      try {
        tx.abort();
      } catch {
        /* already finished */
      }
      reject(error);
    }
  });
}

function Queue(db, scope) {
  this.db = db;
  this.scope = scope;
}

/** This scope's records, oldest first (without their files). */
Queue.prototype.list = function () {
  var scope = this.scope;
  return transact(this.db, "readonly", function (records) {
    return records.index("scope").getAll(scope);
  }).then(function (found) {
    return (found || []).sort(function (a, b) {
      return a.added - b.added;
    });
  });
};

Queue.prototype.get = function (key) {
  return transact(this.db, "readonly", function (records) {
    return records.get(key);
  });
};

Queue.prototype.getBlob = function (key) {
  return transact(this.db, "readonly", function (records, blobs) {
    return blobs.get(key);
  });
};

/** Store a record and its file together (all or nothing). */
Queue.prototype.put = function (record, blob) {
  record.scope = this.scope;
  return transact(this.db, "readwrite", function (records, blobs) {
    blobs.put(blob, record.key);
    return records.put(record);
  });
};

/** Change some fields of a record (its file is not touched). */
Queue.prototype.update = function (key, fields) {
  return transact(this.db, "readwrite", function (records) {
    var request = records.get(key);
    request.onsuccess = function () {
      if (!request.result) return; // removed meanwhile (finished in another tab)
      Object.keys(fields).forEach(function (name) {
        request.result[name] = fields[name];
      });
      records.put(request.result);
    };
    return null;
  });
};

Queue.prototype.remove = function (key) {
  return transact(this.db, "readwrite", function (records, blobs) {
    blobs.delete(key);
    return records.delete(key);
  });
};

/** Drop entries (of any order or person) nobody came back for in MAX_AGE_DAYS. */
function forgetOld(db) {
  var cutoff = Date.now() - MAX_AGE_DAYS * 86400000;
  return transact(db, "readwrite", function (records, blobs) {
    var cursor = records.openCursor();
    cursor.onsuccess = function () {
      var at = cursor.result;
      if (!at) return;
      if (!(at.value.added >= cutoff)) {
        blobs.delete(at.value.key);
        at.delete();
      }
      at.continue();
    };
    return null;
  }).catch(function () {
    /* tidying only */
  });
}

/** A random UUID (crypto.randomUUID needs a secure context; getRandomValues does not). */
function newId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    try {
      return window.crypto.randomUUID();
    } catch {
      /* fall through */
    }
  }
  var bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  var hex = Array.prototype.map
    .call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    })
    .join("");
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
}

/**
 * Hold the Web Lock `name` until the returned function is called. Resolves null when another
 * tab holds it and wait is false. Without Web Locks (old browsers) every request gets a
 * no-op lock: two tabs may then both send a file, and the server's offset check keeps the
 * file right (one of them hears 409 and re-syncs), at the cost of some bytes sent twice.
 */
function lock(name, wait) {
  if (!navigator.locks || typeof navigator.locks.request !== "function") {
    return Promise.resolve(function () {});
  }
  return new Promise(function (resolve) {
    navigator.locks
      .request("rkh-upload:" + name, wait ? {} : { ifAvailable: true }, function (held) {
        if (!held) {
          resolve(null);
          return undefined;
        }
        return new Promise(function (release) {
          resolve(release);
        });
      })
      .catch(function () {
        resolve(function () {}); // locks refused here: go on without
      });
  });
}

function isQuotaError(error) {
  return !!error && (error.name === "QuotaExceededError" || error.code === 22);
}

export const uploadQueue = {
  open: function (scope) {
    return openDb().then(function (db) {
      forgetOld(db);
      return new Queue(db, scope);
    });
  },
  lock: lock,
  newId: newId,
  isQuotaError: isQuotaError,
};
