// Threads: the panel beside the channel (`?thread=<root>`, drawn by the server) kept live, the
// roots' "N replies" lines, and the sidebar's Threads link. Replies are messages of the
// channel's log with `thread_root_seq`; timeline.js hands them here. Every piece of markup is
// the server's: a reply's `html` from its frame, the summary line from `thread.updated`.

import { $, $$, fromServerHtml, fromTemplate, localiseTimes } from "./dom.js";
import { page } from "./page.js";
import { settlePending } from "./composer.js";
import { addTools } from "./reactions.js";
import { addOwnActions } from "./timeline.js";

export function panel() {
  return $(".thread-panel");
}

export function openRoot() {
  return Number(panel()?.dataset.threadRoot) || null;
}

function visibleAndFocused() {
  return document.visibilityState === "visible" && document.hasFocus();
}

// A reply of the open thread goes in the panel, in seq order, once.
export function onReply(frame) {
  const list = $(".thread-messages");
  if (!list || frame.channel_id !== page.openChannel?.id) return;
  if (frame.message.thread_root_seq !== openRoot()) return;
  if (document.getElementById("t-" + frame.seq)) return;
  const article = fromServerHtml(frame.html);
  if (!article) return;
  article.id = "t-" + frame.seq;
  if (frame.message.client_msg_id) settlePending(frame.message.client_msg_id);
  const later = $$("article.message[data-seq]", list).find((el) => Number(el.dataset.seq) > frame.seq);
  const fromMe = frame.message.user_id === page.me.id;
  if (!fromMe && !visibleAndFocused() && !$("#new-replies", list)) {
    const line = fromTemplate("new-replies-line");
    if (line) list.insertBefore(line, later || $(".message.pending", list));
  }
  list.insertBefore(article, later || $(".message.pending", list));
  // Replying follows the thread.
  if (fromMe) showFollowing(true);
  localiseTimes(article);
  addOwnActions(article);
  addTools(article);
  list.scrollTop = list.scrollHeight;
}

function showFollowing(following) {
  const form = $(".follow-form", panel());
  if (!form) return;
  $("input[name=follow]", form).value = following ? "0" : "1";
  $("button", form).textContent = following ? "Unfollow" : "Follow";
}

// ---------------------------------------------------------------- frame handlers

// A root's summary changed: its line is replaced (or added under it), and the open panel's
// count follows.
export function onThreadUpdated(frame) {
  if (frame.channel_id !== page.openChannel?.id) return;
  const root = document.getElementById("m-" + frame.root_seq);
  if (root) {
    const line = fromServerHtml(frame.html);
    const old = $(".thread-summary", root);
    if (frame.reply_count === 0 && old) old.remove();
    else if (old && line) old.replaceWith(line);
    else if (line) $(".message-main", root)?.appendChild(line);
    if (line) localiseTimes(line);
  }
  if (openRoot() === frame.root_seq) {
    const count = $(".thread-count span", panel());
    if (count) count.textContent = frame.reply_count === 1 ? "1 reply" : `${frame.reply_count} replies`;
  }
}

// A followed thread has replies to read: the sidebar's Threads link is bold until they are.
// Replies to the thread on screen are being read.
export function onThreadUnread(frame) {
  const link = $("#threads-link");
  if (!link) return;
  const onScreen = frame.channel_id === page.openChannel?.id && frame.root_seq === openRoot() && visibleAndFocused();
  if (frame.unread > 0 && !onScreen) link.classList.add("unread");
}

// The panel is the Escape key's to close, and its list starts at the newest reply (or the
// "New replies" line).
export function setUpPanel() {
  const p = panel();
  if (!p) return;
  const list = $(".thread-messages", p);
  const line = $("#new-replies", list);
  if (line) line.scrollIntoView({ block: "center" });
  else if (list) list.scrollTop = list.scrollHeight;
  $("form.thread-composer textarea", p)?.focus();
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    if (!p.contains(document.activeElement) && document.activeElement !== document.body) return;
    $(".close-thread", p)?.click();
  });
}
