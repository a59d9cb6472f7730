// Unread state and the sidebar that shows it: per channel, the last seq known and the reader's
// last_read_seq (from `ready`, then kept up by messages and read points), the bold link and the
// badge (a count of mentions, or of every message in a DM). What is drawn in the open channel's
// list lives in timeline.js; this module only hears about it.

import { $ } from "./dom.js";
import { page, isDm } from "./page.js";

/** channel_id → { last_seq, last_read_seq }, where last_seq is the newest message the channel
 * view shows (thread replies are not channel unread). */
const channels = new Map();

export function sidebarLink(channelId) {
  return $(`.sidebar-link[data-channel-id="${channelId}"]`);
}

// The counts live on the link's data- attributes, where the server put them, so that a count
// drawn by the page and one kept up live are the same number.
function setBadge(link, unread, badge) {
  if (!link) return;
  link.dataset.unread = String(unread);
  link.dataset.badge = String(badge);
  // A muted conversation turns bold only for what badges it (a mention).
  link.classList.toggle("unread", unread > 0 && (link.dataset.muted !== "1" || badge > 0));
  let el = $(".badge", link);
  if (badge > 0) {
    if (!el) {
      el = document.createElement("span");
      el.className = "badge";
      link.appendChild(el);
    }
    el.textContent = String(badge);
    el.setAttribute("aria-label", `${badge} ${isDm(link.dataset.kind) ? "unread" : "mentions"}`);
  } else if (el) {
    el.remove();
  }
}

// "@ada" mentions ada, "@adam" does not.
function mentionsMe(text) {
  const handle = "@" + page.me.username;
  const at = text.toLowerCase().indexOf(handle);
  if (at < 0) return false;
  const after = text.charAt(at + handle.length);
  return !/[a-z0-9_-]/i.test(after);
}

// A message arrived for a channel not on screen (or not read yet): bold, and a badge for a
// mention or a DM. Your own messages never count.
export function countUnread(channelId, message) {
  const link = sidebarLink(channelId);
  if (!link || message.user_id === page.me.id) return;
  if (message.thread_root_seq && !message.reply_broadcast) return;
  const unread = Number(link.dataset.unread || 0) + 1;
  const forMe = (isDm(link.dataset.kind) && link.dataset.muted !== "1") || mentionsMe(message.text);
  const badge = Number(link.dataset.badge || 0) + (forMe ? 1 : 0);
  setBadge(link, unread, badge);
}

// Read points only move forward: a late `read` from another tab must not unread a channel.
export function applyReadPoint(channelId, seq) {
  const state = channels.get(channelId);
  if (state) state.last_read_seq = Math.max(state.last_read_seq, seq);
  const link = sidebarLink(channelId);
  if (link && state && state.last_read_seq >= state.last_seq) setBadge(link, 0, 0);
}

// What you send yourself you have read.
export function noteMessage(channelId, seq, fromMe) {
  const state = channels.get(channelId) || { last_seq: 0, last_read_seq: 0 };
  state.last_seq = Math.max(state.last_seq, seq);
  if (fromMe) state.last_read_seq = Math.max(state.last_read_seq, seq);
  channels.set(channelId, state);
}

export function hasRead(channelId, seq) {
  const state = channels.get(channelId);
  return Boolean(state && state.last_read_seq >= seq);
}

// ---------------------------------------------------------------- frame handlers

// `ready` is the truth after a reconnect: links the page drew bold may have been read
// elsewhere meanwhile, and others may have gained messages.
export function onReady(frame) {
  frame.channels.forEach((c) => {
    const shown = c.last_shown_seq ?? c.last_seq;
    channels.set(c.id, { last_seq: shown, last_read_seq: c.last_read_seq });
    if (c.id === page.openChannel?.id) return;
    const link = sidebarLink(c.id);
    if (!link) return;
    if (shown <= c.last_read_seq) setBadge(link, 0, 0);
    else if (link.dataset.muted !== "1" || Number(link.dataset.badge || 0) > 0) link.classList.add("unread");
  });
}

export function onRead(frame) {
  applyReadPoint(frame.channel_id, frame.seq);
}

export function onChannelJoined(frame) {
  const c = frame.channel;
  channels.set(c.id, { last_seq: c.last_shown_seq ?? c.last_seq, last_read_seq: c.last_read_seq });
}

export function onChannelLeft(frame) {
  channels.delete(frame.channel_id);
  sidebarLink(frame.channel_id)?.closest("li")?.remove();
}
