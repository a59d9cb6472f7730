// Desktop notifications and Web Push on this device.
//
// The server decides who hears of what (levels, mentions, do not disturb) and sends a
// `notification` frame to every socket of a person with one open. Here, one tab per person
// shows it: the tab holding the "natter-notify" Web Lock is the leader, and every tab tells the
// others over a BroadcastChannel which conversation it shows and whether its window has focus,
// so nothing is shown for the conversation someone is looking at. A click focuses the tab and
// opens the message.
//
// Permission is asked for only when the person clicks "Turn on" (the sidebar's banner or the
// Preferences page), never on load. Once granted, the service worker (/sw.js) is registered and
// the browser's push subscription is sent to the server, so pushes arrive when no tab is open;
// logging out forgets it, so the next person on this browser does not get the last one's.

import { $, $$, csrfToken } from "./dom.js";
import { page } from "./page.js";

const supported = "Notification" in window;
const tabId = Math.random().toString(36).slice(2);
/** tabId → { channelId, focused, at }: what each other open tab shows. */
const tabs = new Map();
const channel = "BroadcastChannel" in window ? new BroadcastChannel("natter-notify") : null;
let leader = !("locks" in navigator); // without Web Locks every tab shows; the tag de-duplicates

function focusedHere() {
  return document.visibilityState === "visible" && document.hasFocus();
}

function announce() {
  channel?.postMessage({ type: "tab", id: tabId, channelId: page.openChannel?.id ?? null, focused: focusedHere() });
}

function watchTabs() {
  channel?.addEventListener("message", ({ data }) => {
    if (data?.type === "tab") tabs.set(data.id, { channelId: data.channelId, focused: data.focused, at: Date.now() });
    if (data?.type === "gone") tabs.delete(data.id);
    if (data?.type === "hello") announce();
  });
  ["focus", "blur", "visibilitychange"].forEach((name) => window.addEventListener(name, announce));
  window.addEventListener("pagehide", () => channel?.postMessage({ type: "gone", id: tabId }));
  channel?.postMessage({ type: "hello" });
  announce();
  // The lock is held for the tab's life; the next tab in line takes over when it closes.
  navigator.locks?.request("natter-notify", () => {
    leader = true;
    return new Promise(() => {});
  });
}

/** Whether some tab shows this conversation in a focused window. */
function onScreen(channelId) {
  if (focusedHere() && page.openChannel?.id === channelId) return true;
  for (const tab of tabs.values()) if (tab.focused && tab.channelId === channelId) return true;
  return false;
}

function open(url) {
  window.focus();
  if (url) window.location.href = url;
}

export function onNotification(frame) {
  if (!supported || Notification.permission !== "granted" || !leader) return;
  if (onScreen(frame.channel_id)) return;
  const options = { body: frame.body, tag: frame.tag, renotify: true, icon: "/static/icons/icon-192.png", data: { url: frame.url } };
  try {
    const shown = new Notification(frame.title, options);
    shown.onclick = () => {
      shown.close();
      open(frame.url);
    };
  } catch {
    // Where pages may not construct notifications (Android), the service worker shows it.
    navigator.serviceWorker?.ready.then((reg) => reg.showNotification(frame.title, options));
  }
}

// ---------------------------------------------------------------- push subscription

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function send(method, subscription) {
  await fetch("/push/subscriptions", {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken(), Accept: "application/json" },
    body: JSON.stringify(subscription),
    credentials: "same-origin",
  });
}

/** Registers the service worker and sends this browser's push subscription to the server. */
async function subscribePush() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return;
  const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (!subscription) {
    const { publicKey } = await (await fetch("/push/vapid-public-key")).json();
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) });
  }
  await send("POST", subscription.toJSON());
}

async function forgetPush() {
  const registration = await navigator.serviceWorker?.getRegistration("/");
  const subscription = await registration?.pushManager.getSubscription();
  if (!subscription) return;
  await send("DELETE", { endpoint: subscription.endpoint });
  await subscription.unsubscribe();
}

// ---------------------------------------------------------------- asking

function showState() {
  const state = $("#notify-state");
  const button = $("#enable-notifications");
  const banner = $("#notify-banner");
  const permission = supported ? Notification.permission : "unsupported";
  if (button) button.hidden = permission !== "default";
  if (banner) banner.hidden = permission !== "default" || localStorage.getItem("natter-notify-dismissed") === "1";
  if (!state) return;
  state.textContent = {
    granted: "Desktop notifications are on in this browser, and it gets pushes when no Natter tab is open.",
    denied: "This browser blocks Natter's notifications. Allow them in the site settings (the icon left of the address), then reload.",
    unsupported: "This browser cannot show notifications.",
  }[permission] || state.textContent;
}

async function turnOn() {
  const permission = await Notification.requestPermission();
  showState();
  if (permission === "granted") subscribePush().catch(() => {});
}

export function setUpNotifications() {
  $$("#enable-notifications, #notify-banner [data-enable]").forEach((b) => b.addEventListener("click", turnOn));
  $("#notify-banner [data-dismiss]")?.addEventListener("click", () => {
    localStorage.setItem("natter-notify-dismissed", "1");
    showState();
  });
  $$('form[action="/logout"]').forEach((form) =>
    form.addEventListener("submit", (event) => {
      if (form.dataset.forgotten) return;
      event.preventDefault();
      form.dataset.forgotten = "1";
      forgetPush().catch(() => {}).finally(() => form.submit());
    }),
  );
  navigator.serviceWorker?.addEventListener("message", ({ data }) => {
    if (data?.type === "open") open(data.url);
  });
  const zone = $("#time-zone");
  if (zone?.dataset.browserDefault) {
    const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if ($$("option", zone).some((o) => o.value === here)) zone.value = here;
  }
  showState();
  if (supported && Notification.permission === "granted") subscribePush().catch(() => {});
  if (page.me) watchTabs();
}
