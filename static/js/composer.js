// The composer: Enter sends and Shift+Enter breaks the line, the box grows with its text, and
// typing is announced (at most every 3 s, as the server allows). While the socket is ready a
// send goes over it and shows at once as pending, until the real message arrives in the list
// (timeline.js calls settlePending); otherwise the form posts as it does without a script.
// A message may share files (uploads.js uploads them as they are added): a send waits for
// their uploads to end and names the finished ones, and then its text may be empty.
// The message markup itself is never written here: a pending send is a copy of the
// server's <template id="pending-message">.

import { $, fromTemplate } from "./dom.js";
import { page } from "./page.js";
import { isReady, send } from "./socket.js";
import { setUpUploads, trayOf } from "./uploads.js";

/** client_msg_id → { channel_id, text, files, thread, form, element }: sends not yet seen back
 *  as messages. */
const pending = new Map();

function newClientMsgId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return "c-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
}

// A send shows where its message will: in the channel, or in the open thread. Its files show
// by name until the message, with their thumbnails and cards, arrives.
function showPending(text, files, thread) {
  const article = fromTemplate("pending-message");
  const list = thread ? $(".thread-messages") : page.inner;
  if (!article || !list) return null;
  const body = $(".message-body", article);
  body.textContent = text;
  if (files.length) {
    const names = document.createElement("p");
    names.className = "pending-files";
    names.textContent = `📎 ${files.map((f) => f.name).join(", ")}`;
    body.after(names);
  }
  list.appendChild(article);
  if (thread) list.scrollTop = list.scrollHeight;
  else page.list.scrollTop = 0;
  return article;
}

// The frame for a send: a reply carries its thread and whether it goes to the channel too.
function sendFrame(entry, id) {
  const frame = { type: "send", channel_id: entry.channel_id, client_msg_id: id, text: entry.text };
  if (entry.files.length) frame.file_ids = entry.files.map((f) => f.id);
  if (entry.thread) Object.assign(frame, entry.thread);
  return frame;
}

// The real message replaces its pending copy.
export function settlePending(clientMsgId) {
  const entry = pending.get(clientMsgId);
  if (!entry) return;
  entry.element?.remove();
  pending.delete(clientMsgId);
}

// A refused send gives its text back to the box (unless something new was typed) and its files
// back to the tray, and says why.
function failPending(clientMsgId, why) {
  const entry = pending.get(clientMsgId);
  pending.delete(clientMsgId);
  entry?.element?.remove();
  const form = entry?.form || $("form.composer");
  const box = $("textarea[name=text]", form);
  if (box && !box.value) box.value = entry ? entry.text : "";
  if (entry?.files.length) trayOf(form)?.restore(entry.files);
  // The page may already show an error from a form post; one alert says the latest.
  const error = $("#composer-error") || fromTemplate("composer-error-template");
  error.textContent = why;
  form.prepend(error);
}

// A send made while files upload waits for them: the button says so, and once the last upload
// ends the form is submitted again, with whatever finished.
function sendWhenUploaded(form, tray) {
  if (form.dataset.waiting) return;
  form.dataset.waiting = "1";
  const button = $("button[type=submit]", form);
  button?.setAttribute("aria-busy", "true");
  if (button) button.disabled = true;
  tray.settled().then(() => {
    delete form.dataset.waiting;
    button?.removeAttribute("aria-busy");
    if (button) button.disabled = false;
    form.requestSubmit();
  });
}

export function setUpComposer(form) {
  const box = $("textarea[name=text]", form);
  if (!box) return;
  const tray = setUpUploads(form);
  const hasFiles = () => Boolean(tray?.hasFiles());
  // The server's limit, in the form so it is written once (messages::MAX_CHARS). Without it,
  // the server still refuses and failPending says so.
  const maxChars = Number(form.dataset.maxChars) || Infinity;
  const grow = () => {
    box.style.height = "auto";
    box.style.height = Math.min(box.scrollHeight, window.innerHeight * 0.4) + "px";
  };
  let lastTyping = 0;
  box.addEventListener("input", () => {
    grow();
    const now = Date.now();
    if (isReady() && page.openChannel && now - lastTyping > 3000 && box.value.trim()) {
      lastTyping = now;
      send({ type: "typing", channel_id: page.openChannel.id });
    }
  });
  box.addEventListener("keydown", (event) => {
    // isComposing: Enter also confirms a word in an input method, and must not send it.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    if (box.value.trim() === "" && !hasFiles()) return;
    form.requestSubmit();
  });
  form.addEventListener("submit", (event) => {
    if (tray?.busy()) {
      event.preventDefault();
      sendWhenUploaded(form, tray);
      return;
    }
    const text = box.value;
    const files = tray ? tray.finished() : [];
    // Nothing to send (the box is no longer `required`, since files alone make a message).
    if (text.trim() === "" && files.length === 0) {
      event.preventDefault();
      return;
    }
    // For the form's own post, should it go that way; the socket's frame names them itself.
    const named = $("input[name=files]", form);
    if (named) named.value = files.map((f) => f.id).join(",");
    // Counted as Rust counts (`chars()`, Unicode scalar values), not in UTF-16 units, so that
    // a message of emoji is not sent the slow way for being "too long".
    if (!isReady() || !page.openChannel || [...text].length > maxChars) return; // the form posts as usual
    event.preventDefault();
    if (named) named.value = "";
    const id = newClientMsgId();
    const root = Number($("input[name=thread_root_seq]", form)?.value) || null;
    const broadcast = $("input[name=broadcast]", form);
    const thread = root ? { thread_root_seq: root, broadcast: Boolean(broadcast?.checked) } : null;
    const element = showPending(text, files, thread);
    const entry = { channel_id: page.openChannel.id, text, files, thread, form, element };
    pending.set(id, entry);
    send(sendFrame(entry, id));
    box.value = "";
    tray?.clearFinished();
    if (broadcast) broadcast.checked = false;
    grow();
    $("#composer-error")?.remove();
  });
  grow();
  box.setSelectionRange(box.value.length, box.value.length);
}

// ---------------------------------------------------------------- frame handlers

// After a reconnect, every send not yet seen back goes out again with the same client_msg_id:
// if the first try was stored, the server answers with that message rather than a second.
export function onReady() {
  pending.forEach((entry, id) => send(sendFrame(entry, id)));
}

// Stored: no longer greyed out, though it stays pending until the message itself arrives.
export function onAck(frame) {
  const entry = pending.get(frame.client_msg_id);
  if (entry && entry.element) {
    entry.element.classList.remove("pending");
    $(".pending-note", entry.element)?.remove();
  }
}

// Only errors about one of our sends concern the composer; the rest need no answer.
export function onError(frame) {
  if (frame.client_msg_id && pending.has(frame.client_msg_id)) failPending(frame.client_msg_id, frame.message);
}
