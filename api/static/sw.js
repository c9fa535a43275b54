// Offline shell: the page and its files come from the cache when the network drops; data from localStorage.
const SHELL = "qyb-shell-v1";
const FILES = ["/", "/overview", "/static/app.css", "/static/common.js", "/static/phone.js", "/static/overview.js",
  "/static/overview.css", "/static/uPlot.iife.min.js", "/static/uPlot.min.css", "/static/icon.svg",
  "/manifest.webmanifest"];
self.addEventListener("install", (e) => { e.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES))); self.skipWaiting(); });
self.addEventListener("activate", (e) => { e.waitUntil(self.clients.claim()); });
self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.pathname.startsWith("/api/")) return; // the API is never cached here
  // network first, so a new version shows at once; the cache only when offline
  e.respondWith(fetch(e.request).then((r) => {
    const copy = r.clone();
    if (r.ok) caches.open(SHELL).then((c) => c.put(e.request, copy));
    return r;
  }).catch(() => caches.match(e.request, { ignoreSearch: true })));
});
