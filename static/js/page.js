// What the server said about this page, read once at start from its data- attributes: who is
// reading and in which workspace (`.app`) and which channel is open (`section.messages`), with
// the two elements the live modules draw into. Pages without them (login, settings) leave the
// fields null. The state that changes while the page lives belongs to the module that changes
// it, not here.

import { $ } from "./dom.js";

export const page = {
  /** { id, username } of the reader; null on pages outside the app shell. */
  me: null,
  /** The slug of the workspace on screen (its URLs are /w/<slug>/…); null outside the shell. */
  workspace: null,
  /** { id, kind, base, viewingHistory } of the channel on screen; null on other pages. */
  openChannel: null,
  /** The scrolling list (`section.messages`) and the box of messages inside it. */
  list: null,
  inner: null,
};

// Filled by app.js at DOMContentLoaded rather than when this module loads, so that nothing
// depends on module scripts being deferred.
export function readPage() {
  const app = $(".app");
  const list = $("section.messages");
  page.me = app ? { id: Number(app.dataset.userId), username: app.dataset.username } : null;
  page.workspace = app?.dataset.workspace || null;
  page.openChannel = list
    ? {
        id: Number(list.dataset.channelId),
        kind: list.dataset.kind,
        base: list.dataset.base,
        viewingHistory: list.dataset.history === "1",
      }
    : null;
  page.list = list;
  page.inner = list ? $(".messages-inner", list) : null;
}

// Direct messages count every message as a badge and get delivery receipts.
export const isDm = (kind) => kind === "dm" || kind === "group_dm";
