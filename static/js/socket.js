// The one WebSocket to /ws: connecting, saying hello, reconnecting with backoff, the ping that
// keeps presence online, and the status line that says when the page is not live. It carries
// frames and knows nothing of what they mean: the caller gives it the cursors for `hello` and a
// function for each parsed frame (frames.js). Frames sent while the socket is down are dropped;
// the composer keeps its own sends and sends them again on `ready`.

import { $ } from "./dom.js";

const socket = {
  ws: null,
  /** True from `ready` until the socket closes: before `ready` the server wants only `hello`. */
  ready: false,
  attempt: 0,
  pingTimer: null,
};

export const isReady = () => socket.ready;

// Returns whether the frame went out.
export function send(frame) {
  if (socket.ws && socket.ws.readyState === WebSocket.OPEN) {
    socket.ws.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

function setStatus(text) {
  const el = $("#conn-status");
  if (!el) return;
  el.textContent = text;
  el.hidden = !text;
}

// `cursors()` is asked on every (re)connect, so the open channel resumes from what it shows now.
export function connect({ cursors, onFrame }) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws`);
  socket.ws = ws;
  ws.addEventListener("open", () => {
    ws.send(JSON.stringify({ type: "hello", cursors: cursors() }));
  });
  ws.addEventListener("message", (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    onFrame(frame);
  });
  ws.addEventListener("close", (event) => {
    delete document.body.dataset.live;
    socket.ready = false;
    clearInterval(socket.pingTimer);
    if (event.code === 4001) {
      setStatus("You were logged out. Reload to log in again.");
      return;
    }
    // Back off with jitter so a restarted server is not stampeded.
    const delay = Math.min(30000, 500 * 2 ** socket.attempt) * (0.5 + Math.random());
    socket.attempt += 1;
    // The first retry is quiet: a server restart usually heals before anyone notices.
    if (socket.attempt > 1) setStatus("Reconnecting…");
    setTimeout(() => connect({ cursors, onFrame }), delay);
  });
}

// The server drops a socket that has not pinged for 60 s.
export function onReady() {
  socket.ready = true;
  // Said on the page too, for anything that waits for the page to be live (browser tests).
  document.body.dataset.live = "ready";
  socket.attempt = 0;
  setStatus("");
  clearInterval(socket.pingTimer);
  socket.pingTimer = setInterval(() => send({ type: "ping" }), 30000);
}
