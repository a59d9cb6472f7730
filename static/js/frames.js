// The table of what the page does with each frame from /ws (docs/protocol.md), by frame type.
// A new frame type is one new entry here and its handler in the module it concerns. Types not
// in the table (`pong`, and any the server adds later) are ignored.

import * as socket from "./socket.js";
import * as unread from "./unread.js";
import * as presence from "./presence.js";
import * as composer from "./composer.js";
import * as timeline from "./timeline.js";
import * as threads from "./threads.js";
import * as reactions from "./reactions.js";
import * as notify from "./notify.js";
import * as people from "./people.js";

// Where several modules answer one frame they run in the order listed. For `ready`: the socket
// first (sends are allowed from then on), read state before anything that asks for it, and the
// read point last.
const handlers = {
  ready: [socket.onReady, unread.onReady, people.onReady, composer.onReady, timeline.onReady],
  message: [timeline.onMessage, people.onMessage],
  "message.updated": [timeline.onMessageUpdated],
  "message.deleted": [timeline.onMessageDeleted],
  gap: [timeline.onGap],
  ack: [composer.onAck],
  error: [composer.onError],
  read: [unread.onRead],
  "channel.joined": [unread.onChannelJoined],
  "channel.left": [unread.onChannelLeft],
  receipt: [presence.onReceipt],
  typing: [presence.onTyping],
  presence: [presence.onPresence],
  dnd: [presence.onDnd],
  "user.updated": [people.onUserUpdated],
  notification: [notify.onNotification],
  "thread.updated": [threads.onThreadUpdated],
  "thread.unread": [threads.onThreadUnread],
  "reaction.added": [reactions.onReactionAdded],
  "reaction.removed": [reactions.onReactionRemoved],
  "pin.added": [reactions.onPinAdded],
  "pin.removed": [reactions.onPinRemoved],
  saved: [reactions.onSaved],
};

export function dispatch(frame) {
  if (!frame || !Object.hasOwn(handlers, frame.type)) return;
  handlers[frame.type].forEach((handle) => handle(frame));
}
