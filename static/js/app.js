// Natter's browser script: plain ES modules, no build step, served as written. Every page works
// without it: forms post and pages reload. With it, the composer behaves like a chat app and
// the page is live over /ws. This entry only wires the modules together at start; what each
// part does lives in its module:
//   dom.js       DOM helpers and page behaviours that need no socket
//   page.js      who is reading, in which workspace, which channel is open: data- attributes
//   socket.js    the WebSocket: hello, reconnect, ping, status line
//   frames.js    the table of frame handlers, by frame type
//   unread.js    per-channel read state, sidebar bold and badges
//   timeline.js  the open channel's messages, in seq order, and read points
//   composer.js  sending, pending sends until they arrive, typing
//   uploads.js   the composer's files: picked, dropped or pasted, uploaded, shown as chips
//   presence.js  presence dots, "is typing", DM receipts, idle → away
//   threads.js   the thread panel, roots' "N replies", the sidebar's Threads link
//   reactions.js reaction chips and the emoji picker, pins, saves, message tools
//   complete.js  the composer's `@` and `:` completion
//   lightbox.js  a message's image shown full size over the page, ←/→ through the others
//   notify.js    desktop notifications from one tab, the push subscription, asking for both
//   people.js    the card from any name or picture; names, pictures and statuses kept live
//   avatar.js    the profile page's picture: choosing the square to keep

import { $$, confirmDestructive, localiseTimes, selectOnFocus } from "./dom.js";
import { page, readPage } from "./page.js";
import { connect } from "./socket.js";
import { dispatch } from "./frames.js";
import { setUpComposer } from "./composer.js";
import { addOwnActionsToShown, resumeCursors, watchReading } from "./timeline.js";
import { watchActivity } from "./presence.js";
import { setUpPanel } from "./threads.js";
import { watchClicks } from "./reactions.js";
import { setUpCompletion } from "./complete.js";
import { watchDrops } from "./uploads.js";
import { watchLightbox } from "./lightbox.js";
import { setUpNotifications } from "./notify.js";
import { watchCards } from "./people.js";
import { setUpAvatarCropper } from "./avatar.js";

document.addEventListener("DOMContentLoaded", () => {
  readPage();
  $$("form.composer textarea").forEach(setUpCompletion);
  $$("form.composer").forEach(setUpComposer);
  watchDrops();
  localiseTimes(document);
  confirmDestructive(document);
  selectOnFocus();
  document.getElementById("new")?.scrollIntoView({ block: "center" });
  setUpPanel();
  watchClicks();
  watchLightbox();
  setUpNotifications();
  watchCards();
  setUpAvatarCropper();
  // Live only inside the app shell; login and signup pages have no one to be live for.
  if (!page.me || !window.WebSocket) return;
  addOwnActionsToShown();
  connect({ cursors: resumeCursors, onFrame: dispatch });
  watchActivity();
  watchReading();
});
