// Who is around: presence dots for the people the page shows (people.js subscribes to them on
// `ready`, since the server sends presence only to sockets that subscribe), "… is typing", a DM's "Delivered" and
// "Seen" under your last message, and idle → away after five minutes without input. What you
// type is announced by composer.js; this module only shows what others do.

import { $$ } from "./dom.js";
import { page } from "./page.js";
import { send } from "./socket.js";

/** user_id → { name, timer }: who is typing in the open channel now. */
const typists = new Map();

function renderTyping() {
  const el = document.getElementById("typing");
  if (!el) return;
  const names = Array.from(typists.values()).map((t) => t.name);
  el.textContent =
    names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]} are typing…`;
}

// ---------------------------------------------------------------- idle → away

let idleTimer = null;
let away = false;

function activity() {
  if (away) {
    away = false;
    send({ type: "presence.set", status: "online" });
  }
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    away = true;
    send({ type: "presence.set", status: "away" });
  }, 5 * 60 * 1000);
}

export function watchActivity() {
  ["mousemove", "keydown", "focus"].forEach((name) => window.addEventListener(name, activity, { passive: true }));
  activity();
}

// ---------------------------------------------------------------- frame handlers

export function onPresence(frame) {
  $$(`[data-presence-user="${frame.user_id}"]`).forEach((dot) => {
    dot.dataset.status = frame.status;
    dot.title = frame.status.charAt(0).toUpperCase() + frame.status.slice(1);
  });
}

// Do not disturb: a moon on the person's dot until `until` (unix seconds), or none.
const dndTimers = new Map();
export function onDnd(frame) {
  clearTimeout(dndTimers.get(frame.user_id));
  const on = frame.until && frame.until * 1000 > Date.now();
  $$(`[data-presence-user="${frame.user_id}"]`).forEach((dot) => {
    if (on) dot.dataset.dnd = "1";
    else delete dot.dataset.dnd;
  });
  if (on) dndTimers.set(frame.user_id, setTimeout(() => onDnd({ user_id: frame.user_id, until: null }), frame.until * 1000 - Date.now()));
}

// Typing frames come at most every 3 s while someone types; a name goes 5 s after the last.
export function onTyping(frame) {
  if (frame.channel_id !== page.openChannel?.id) return;
  clearTimeout(typists.get(frame.user_id)?.timer);
  const timer = setTimeout(() => {
    typists.delete(frame.user_id);
    renderTyping();
  }, 5000);
  typists.set(frame.user_id, { name: frame.name, timer });
  renderTyping();
}

// The receipt is about your last message only, and never steps back from "Seen" to
// "Delivered" for the same message (the two frames can arrive in either order).
export function onReceipt(frame) {
  const receipt = document.getElementById("receipt");
  const open = page.openChannel;
  if (!receipt || !open || frame.channel_id !== open.id || frame.user_id === page.me.id) return;
  const mine = $$("article.message", page.inner).filter((el) => Number(el.dataset.userId) === page.me.id);
  const last = mine[mine.length - 1];
  if (!last || Number(last.dataset.seq) > frame.seq) return;
  const rank = { delivered: 1, seen: 2 };
  if ((rank[receipt.dataset.status] || 0) > rank[frame.status] && receipt.dataset.seq === last.dataset.seq) return;
  receipt.dataset.status = frame.status;
  receipt.dataset.seq = last.dataset.seq;
  receipt.textContent = frame.status === "seen" ? "Seen" : "Delivered";
  receipt.hidden = false;
}
