// Natter's service worker: shows Web Push notifications (sent when no Natter tab has a socket
// open) and opens the message when one is clicked. It caches nothing: Natter is live or it
// says it is offline.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// The payload is JSON {title, body, url, tag}, encrypted by the server for this browser.
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(
    self.registration.showNotification(data.title || "Natter", {
      body: data.body || "",
      tag: data.tag,
      renotify: Boolean(data.tag),
      icon: "/static/icons/icon-192.png",
      badge: "/static/icons/maskable-192.png",
      data: { url: data.url || "/" },
    }),
  );
});

// Focus an open Natter window and take it to the message, or open one.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  let url = new URL(event.notification.data?.url || "/", self.location.origin);
  if (url.origin !== self.location.origin) url = new URL("/", self.location.origin);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const mine = windows.find((client) => new URL(client.url).origin === self.location.origin);
      if (!mine) return self.clients.openWindow(url.href);
      await mine.focus();
      try {
        await mine.navigate(url.href);
      } catch {
        mine.postMessage({ type: "open", url: url.href }); // a window this worker does not control
      }
    })(),
  );
});
