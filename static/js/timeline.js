// The open channel's list of messages, live: each rendered message goes where its seq belongs
// and never twice, a hole reported by `gap` is filled from history, the "New messages" line
// appears when messages arrive unseen, your own messages get their edit and delete actions,
// and the read point is sent once the newest message has been on screen. Every piece of
// markup is the server's: a message's `html` from its frame, the rest from <template>s.
// Badges and per-channel read state are unread.js's; this module tells it what happened.

import { $, $$, confirmDestructive, fromServerHtml, fromTemplate, localiseTimes } from "./dom.js";
import { page, isDm } from "./page.js";
import { isReady, send } from "./socket.js";
import { applyReadPoint, countUnread, hasRead, noteMessage, sidebarLink } from "./unread.js";
import { settlePending } from "./composer.js";
import { addTools, keepAttachments } from "./reactions.js";
import { onReply } from "./threads.js";

function lastShownSeq() {
  const seqs = $$("article.message[data-seq]", page.inner).map((el) => Number(el.dataset.seq));
  return seqs.length ? Math.max(...seqs) : 0;
}

// For `hello`: the open channel resumes from what it shows; the rest are followed live. A page
// of older history shows no newest seq to resume from.
export function resumeCursors() {
  const cursors = {};
  const open = page.openChannel;
  if (open && !open.viewingHistory) cursors[open.id] = lastShownSeq();
  return cursors;
}

function nearBottom() {
  // column-reverse: scrollTop is 0 at the bottom and negative above it.
  return !page.list || Math.abs(page.list.scrollTop) < 120;
}

function visibleAndFocused() {
  return document.visibilityState === "visible" && document.hasFocus();
}

// Messages in frames are rendered for everyone, so without anyone's buttons (the CSRF token
// and the author differ per reader); the page's <template id="own-actions"> adds yours.
export function addOwnActions(article) {
  const template = $("#own-actions");
  if (!template || Number(article.dataset.userId) !== page.me.id || article.classList.contains("deleted")) return;
  if ($(".message-actions", article)) return;
  const actions = template.content.firstElementChild.cloneNode(true);
  $$("a[href], form[action]", actions).forEach((el) => {
    const attr = el.tagName === "A" ? "href" : "action";
    el.setAttribute(attr, el.getAttribute(attr).replace("SEQ", article.dataset.seq));
  });
  // Inside the message's toolbar when it has one, after react, reply, pin and save.
  ($(".message-tools", article) || article).appendChild(actions);
  article.classList.add("mine");
  confirmDestructive(article);
}

export function addOwnActionsToShown() {
  $$("article.message", page.inner || document).forEach(addOwnActions);
}

// Inserts a rendered message where its seq belongs; a seq already shown is left alone.
// Returns the new article, or null if nothing was inserted.
function insertMessage(seq, html, clientMsgId) {
  const inner = page.inner;
  if (!inner || document.getElementById("m-" + seq)) return null;
  const article = fromServerHtml(html);
  if (!article) return null;
  if (clientMsgId) settlePending(clientMsgId);
  const later = $$("article.message[data-seq]", inner).find((el) => Number(el.dataset.seq) > seq);
  const history = $(".history-nav:last-child", inner);
  if (later) inner.insertBefore(article, later);
  else if (history && page.openChannel.viewingHistory) inner.insertBefore(article, history);
  // Pending sends stay last: they have no seq yet, and will be newer than anything arriving.
  else inner.insertBefore(article, $(".message.pending", inner));
  localiseTimes(article);
  addOwnActions(article);
  addTools(article);
  return article;
}

// At most one line, above the first message that arrived unseen.
function showNewMessagesLine(beforeArticle) {
  const inner = page.inner;
  if (!inner || $("#new", inner) || !beforeArticle) return;
  const line = fromTemplate("new-messages-line");
  if (line) inner.insertBefore(line, beforeArticle);
}

// Fills seqs after..upto of the open channel from history, newest page first, 200 at a time
// (the most the history endpoint gives).
async function fetchRange(after, upto) {
  let before = upto + 1;
  while (before > after + 1) {
    const limit = Math.min(200, before - after - 1);
    const response = await fetch(`${page.openChannel.base}/messages?before=${before}&limit=${limit}`, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) return;
    const history = await response.json();
    if (!history.messages.length) return;
    history.messages.forEach((m) => insertMessage(m.seq, m.html));
    before = history.messages[0].seq;
  }
}

// Read means seen: the tab is in front, the list is scrolled to the newest message, and the
// reader is not looking at older history.
export function markReadIfSeen() {
  const open = page.openChannel;
  if (!open || !isReady() || open.viewingHistory) return;
  const seq = lastShownSeq();
  if (!seq || hasRead(open.id, seq)) return;
  if (!visibleAndFocused() || !nearBottom()) return;
  send({ type: "read", channel_id: open.id, seq });
  applyReadPoint(open.id, seq);
}

export function watchReading() {
  window.addEventListener("focus", markReadIfSeen);
  document.addEventListener("visibilitychange", markReadIfSeen);
  if (page.list) page.list.addEventListener("scroll", markReadIfSeen, { passive: true });
}

// ---------------------------------------------------------------- frame handlers

// Last of the `ready` handlers: read state is known by now.
export function onReady() {
  markReadIfSeen();
}

export function onMessage(frame) {
  const open = page.openChannel;
  const fromMe = frame.message.user_id === page.me.id;
  // A reply goes to its thread; only a broadcast one shows (and counts) in the channel too.
  if (frame.message.thread_root_seq) {
    onReply(frame);
    if (!frame.message.reply_broadcast) return;
  }
  noteMessage(frame.channel_id, frame.seq, fromMe);
  if (open && frame.channel_id === open.id && !open.viewingHistory) {
    const wasAtBottom = nearBottom();
    const article = insertMessage(frame.seq, frame.html, frame.message.client_msg_id);
    if (article && !fromMe) {
      if (!visibleAndFocused()) showNewMessagesLine(article);
      if (isDm(open.kind)) send({ type: "delivered", channel_id: frame.channel_id, seq: frame.seq });
    }
    if (article && wasAtBottom) page.list.scrollTop = 0;
    markReadIfSeen();
    if (!fromMe && !visibleAndFocused()) countUnread(frame.channel_id, frame.message);
  } else {
    countUnread(frame.channel_id, frame.message);
    const link = sidebarLink(frame.channel_id);
    if (link && isDm(link.dataset.kind) && !fromMe) {
      send({ type: "delivered", channel_id: frame.channel_id, seq: frame.seq });
    }
  }
}

// A message shows in the channel (`m-<seq>`), in the open thread (`t-<seq>`), or both.
function shownCopies(seq) {
  return ["m-", "t-"].map((prefix) => document.getElementById(prefix + seq)).filter(Boolean);
}

export function onMessageUpdated(frame) {
  if (frame.channel_id !== page.openChannel?.id) return;
  shownCopies(frame.seq).forEach((old) => {
    const article = fromServerHtml(frame.html);
    article.id = old.id;
    // Whether a message continues the previous author's run depends on its neighbours, which
    // the server did not look at when rendering the edit; reactions and pins are kept beside
    // the text and did not change.
    if (old.classList.contains("continued")) article.classList.add("continued");
    keepAttachments(old, article);
    old.replaceWith(article);
    localiseTimes(article);
    addOwnActions(article);
    addTools(article);
  });
}

export function onMessageDeleted(frame) {
  if (frame.channel_id !== page.openChannel?.id) return;
  shownCopies(frame.seq).forEach((old) => {
    old.classList.add("deleted");
    const body = $(".message-body", old);
    const tombstone = fromTemplate("tombstone");
    if (body && tombstone) body.replaceWith(tombstone);
    $$(".message-actions, .message-tools, .edited, .reactions", old).forEach((el) => el.remove());
  });
}

export function onGap(frame) {
  if (frame.channel_id === page.openChannel?.id) fetchRange(frame.after_seq, frame.last_seq);
}
