/* Registers the service worker (/sw.js, rkh_site/pwa.py) from every page (templates/base.html).
 *
 * Where service workers are not available (old browsers, plain http on a host other than
 * localhost, private modes that refuse them) nothing happens and the site works as a normal
 * web site: the worker only adds the offline page and the installable app. */
const script = document.querySelector("script[data-sw-url]");

if (script && "serviceWorker" in navigator && window.isSecureContext) {
  const url = script.getAttribute("data-sw-url");
  const register = () => {
    // updateViaCache "none": the browser checks the worker's parts past its HTTP cache too.
    navigator.serviceWorker
      .register(url, { scope: "/", updateViaCache: "none" })
      .then(() => navigator.serviceWorker.ready)
      .then((registration) => {
        // Loaded while the worker was installing: ask it to take this page over now, so the
        // offline page works from the first visit, not from the next one.
        if (!navigator.serviceWorker.controller && registration.active) {
          registration.active.postMessage({ type: "rkh:claim" });
        }
      })
      .catch(() => {
        /* refused (e.g. storage off): the site works without it */
      });
  };
  if (document.readyState === "complete") register();
  else window.addEventListener("load", register, { once: true });
}
