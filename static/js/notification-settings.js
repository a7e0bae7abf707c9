/* The "This browser" part of the notification settings page (docs/notifications.md).
 *
 * - "Allow notifications in this browser": asks the browser's permission, from this click only
 *   (browsers ignore or penalise asking on load); the state is shown in words.
 * - "Send notifications to this browser, also when no tab is open": Web Push. Switching it on
 *   registers the service worker (/sw.js) if the page has none yet, subscribes with the
 *   server's VAPID public key and sends the subscription to the server; switching it off
 *   unsubscribes and tells the server. Other tabs' bells hear "rkh:push-changed" on reload.
 */
import { csrfToken, requestJSON } from "./common.js";

const section = document.getElementById("browser-notifications");
if (section) start(section);

function start(section) {
  const stateEl = document.getElementById("permission-state");
  const allow = document.getElementById("allow-notifications");
  const toggle = document.getElementById("push-toggle");
  const pushState = document.getElementById("push-state");
  const pushEnabled = section.dataset.pushEnabled === "1";
  const csrf = csrfToken(section);
  const supported = "Notification" in window;
  const pushSupported = supported && "serviceWorker" in navigator && "PushManager" in window;

  const PERMISSION_TEXT = {
    granted: "Notifications are allowed in this browser.",
    denied:
      "This browser blocks notifications from this site. Allow them in the browser's site settings (the icon left of the address).",
    default: "This browser has not been asked yet whether this site may show notifications.",
  };

  function showPermission() {
    if (!supported) {
      stateEl.textContent = "This browser cannot show notifications.";
      stateEl.dataset.state = "unsupported";
      allow.hidden = true;
      return;
    }
    const permission = Notification.permission;
    stateEl.textContent = PERMISSION_TEXT[permission] || "";
    stateEl.dataset.state = permission;
    allow.hidden = permission !== "default";
  }

  function say(text, kind) {
    if (!pushState) return;
    pushState.textContent = text;
    pushState.dataset.kind = kind || "info";
  }

  async function registration() {
    const existing = await navigator.serviceWorker.getRegistration("/");
    if (existing) return existing;
    // The PWA's static/js/sw-register.js registers it on every page; here only if it has not.
    await navigator.serviceWorker.register(section.dataset.swUrl, { scope: "/" });
    return navigator.serviceWorker.ready;
  }

  function keyBytes(base64url) {
    const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function post(url, body) {
    return requestJSON(url, { method: "POST", body, csrf }); // rejects with the envelope's message
  }

  async function subscribe() {
    if (Notification.permission === "default") await Notification.requestPermission();
    showPermission();
    if (Notification.permission !== "granted") {
      throw new Error("Notifications are not allowed in this browser, so nothing can be sent to it.");
    }
    const reg = await registration();
    let subscription;
    try {
      subscription = await reg.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(section.dataset.publicKey),
      });
    } catch {
      throw new Error(
        "This browser could not reach its push service, so notifications will appear only while a tab of this site is open."
      );
    }
    try {
      await post(section.dataset.subscribeUrl, subscription.toJSON());
    } catch (error) {
      await subscription.unsubscribe().catch(() => {}); // the server does not know it: undo
      throw error;
    }
  }

  async function unsubscribe() {
    const reg = await navigator.serviceWorker.getRegistration("/");
    const subscription = reg ? await reg.pushManager.getSubscription() : null;
    if (!subscription) return;
    const endpoint = subscription.endpoint;
    await subscription.unsubscribe();
    await post(section.dataset.unsubscribeUrl, { endpoint });
  }

  async function currentSubscription() {
    const reg = await navigator.serviceWorker.getRegistration("/");
    return reg ? reg.pushManager.getSubscription() : null;
  }

  showPermission();
  if (allow) {
    allow.addEventListener("click", async () => {
      allow.disabled = true;
      try {
        await Notification.requestPermission();
      } finally {
        allow.disabled = false;
        showPermission();
      }
    });
  }

  if (!toggle || !pushEnabled) return;
  if (!pushSupported) {
    say("This browser does not support Web Push.", "info");
    return;
  }
  currentSubscription()
    .then((subscription) => {
      toggle.checked = Boolean(subscription);
      toggle.disabled = false;
      say(subscription ? "This browser gets notifications also when no tab is open." : "", "info");
    })
    .catch(() => {
      toggle.disabled = false;
    });
  toggle.addEventListener("change", async () => {
    const wanted = toggle.checked;
    toggle.disabled = true;
    say(wanted ? "Subscribing…" : "Unsubscribing…", "info");
    try {
      if (wanted) await subscribe();
      else await unsubscribe();
      say(
        wanted
          ? "This browser gets notifications also when no tab is open."
          : "This browser gets notifications only while a tab of this site is open.",
        "ok"
      );
    } catch (error) {
      toggle.checked = Boolean(await currentSubscription().catch(() => null));
      say(error.message, "error");
    } finally {
      toggle.disabled = false;
      document.dispatchEvent(new CustomEvent("rkh:push-changed"));
    }
  });
}
