// Natter's browser script. Plain JavaScript, no build step. Every page works without it:
// forms post and pages reload. With it, the composer behaves like a chat app and the page is
// live over /ws: messages appear in seq order (never twice, holes fetched), sends show as
// pending until acknowledged, badges and the "New messages" line follow along, and typing,
// presence and DM receipts show up. The protocol is described in docs/protocol.md.
"use strict";

(function () {
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
  const csrf = () => ($('meta[name="csrf-token"]') || {}).content || "";

  // ---------------------------------------------------------------- page helpers

  const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

  // Times are rendered in UTC by the server; show them in the reader's own time zone.
  function localiseTimes(root) {
    $$("time[datetime]", root).forEach((el) => {
      const at = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(at.getTime())) return;
      if (el.closest(".message")) el.textContent = clock.format(at);
      el.title = full.format(at);
    });
  }

  // Forms that destroy something ask first.
  function confirmDestructive(root) {
    $$("form[data-confirm]", root).forEach((form) => {
      if (form.dataset.confirmBound) return;
      form.dataset.confirmBound = "1";
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  function selectOnFocus() {
    $$("[data-select-on-focus]").forEach((input) => {
      input.addEventListener("focus", () => input.select());
      input.focus();
    });
  }

  // ---------------------------------------------------------------- state

  const app = $(".app");
  const list = $("section.messages");
  const me = app ? { id: Number(app.dataset.userId), username: app.dataset.username } : null;
  const current = list
    ? {
        id: Number(list.dataset.channelId),
        kind: list.dataset.kind,
        base: list.dataset.base,
        viewingHistory: list.dataset.history === "1",
      }
    : null;
  const inner = list ? $(".messages-inner", list) : null;

  // Per channel: the last seq known and the reader's last_read_seq (from `ready`).
  const channels = new Map();
  // Sends not yet acknowledged, by client_msg_id: { channel_id, text, element }.
  const pending = new Map();

  function sidebarLink(channelId) {
    return $(`.sidebar-link[data-channel-id="${channelId}"]`);
  }

  function shownSeqs() {
    return $$("article.message[data-seq]", inner).map((el) => Number(el.dataset.seq));
  }

  function lastShownSeq() {
    const seqs = shownSeqs();
    return seqs.length ? Math.max(...seqs) : 0;
  }

  // ---------------------------------------------------------------- sidebar and unread

  function setBadge(link, unread, badge) {
    if (!link) return;
    link.dataset.unread = String(unread);
    link.dataset.badge = String(badge);
    link.classList.toggle("unread", unread > 0);
    let el = $(".badge", link);
    if (badge > 0) {
      if (!el) {
        el = document.createElement("span");
        el.className = "badge";
        link.appendChild(el);
      }
      el.textContent = String(badge);
      el.setAttribute("aria-label", `${badge} ${link.dataset.kind === "dm" || link.dataset.kind === "group_dm" ? "unread" : "mentions"}`);
    } else if (el) {
      el.remove();
    }
  }

  function mentionsMe(text) {
    if (!me) return false;
    const handle = "@" + me.username;
    const at = text.toLowerCase().indexOf(handle);
    if (at < 0) return false;
    const after = text.charAt(at + handle.length);
    return !/[a-z0-9_-]/i.test(after);
  }

  // A message arrived for a channel not on screen (or not read yet): bold, and a badge for
  // a mention or a DM.
  function countUnread(channelId, message) {
    const link = sidebarLink(channelId);
    if (!link || message.user_id === me.id) return;
    const isDm = link.dataset.kind === "dm" || link.dataset.kind === "group_dm";
    const unread = Number(link.dataset.unread || 0) + 1;
    const badge = Number(link.dataset.badge || 0) + (isDm || mentionsMe(message.text) ? 1 : 0);
    setBadge(link, unread, badge);
  }

  function applyReadPoint(channelId, seq) {
    const state = channels.get(channelId);
    if (state) state.last_read_seq = Math.max(state.last_read_seq, seq);
    const link = sidebarLink(channelId);
    if (link && state && state.last_read_seq >= state.last_seq) setBadge(link, 0, 0);
  }

  // ---------------------------------------------------------------- the message list

  function nearBottom() {
    // column-reverse: scrollTop is 0 at the bottom and negative above it.
    return !list || Math.abs(list.scrollTop) < 120;
  }

  function visibleAndFocused() {
    return document.visibilityState === "visible" && document.hasFocus();
  }

  function addOwnActions(article) {
    const template = $("#own-actions");
    if (!template || Number(article.dataset.userId) !== me.id || article.classList.contains("deleted")) return;
    if ($(".message-actions", article)) return;
    const actions = template.content.firstElementChild.cloneNode(true);
    $$("a[href], form[action]", actions).forEach((el) => {
      const attr = el.tagName === "A" ? "href" : "action";
      el.setAttribute(attr, el.getAttribute(attr).replace("SEQ", article.dataset.seq));
    });
    article.appendChild(actions);
    article.classList.add("mine");
    confirmDestructive(article);
  }

  function fromHtml(html) {
    const box = document.createElement("div");
    box.innerHTML = html.trim();
    return box.firstElementChild;
  }

  // Inserts a rendered message where its seq belongs; a seq already shown is left alone.
  function insertMessage(seq, html, clientMsgId) {
    if (!inner || document.getElementById("m-" + seq)) return null;
    const article = fromHtml(html);
    if (!article) return null;
    if (clientMsgId && pending.has(clientMsgId)) {
      const entry = pending.get(clientMsgId);
      if (entry.element) entry.element.remove();
      pending.delete(clientMsgId);
    }
    const later = $$("article.message[data-seq]", inner).find((el) => Number(el.dataset.seq) > seq);
    const history = $(".history-nav:last-child", inner);
    if (later) inner.insertBefore(article, later);
    else if (history && current.viewingHistory) inner.insertBefore(article, history);
    else {
      const firstPending = $(".message.pending", inner);
      inner.insertBefore(article, firstPending);
    }
    localiseTimes(article);
    addOwnActions(article);
    return article;
  }

  function showNewMessagesLine(beforeArticle) {
    if (!inner || $("#new", inner) || !beforeArticle) return;
    const line = document.createElement("div");
    line.className = "new-messages";
    line.id = "new";
    line.setAttribute("role", "separator");
    line.innerHTML = "<span>New messages</span>";
    inner.insertBefore(line, beforeArticle);
  }

  // Fills seqs after..upto of the open channel from history (after a `gap`).
  async function fetchRange(after, upto) {
    let before = upto + 1;
    while (before > after + 1) {
      const limit = Math.min(200, before - after - 1);
      const response = await fetch(`${current.base}/messages?before=${before}&limit=${limit}`, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) return;
      const page = await response.json();
      if (!page.messages.length) return;
      page.messages.forEach((m) => insertMessage(m.seq, m.html));
      before = page.messages[0].seq;
    }
  }

  function markReadIfSeen() {
    if (!current || !socket.ready || current.viewingHistory) return;
    const seq = lastShownSeq();
    const state = channels.get(current.id);
    if (!seq || (state && state.last_read_seq >= seq)) return;
    if (!visibleAndFocused() || !nearBottom()) return;
    socket.send({ type: "read", channel_id: current.id, seq });
    applyReadPoint(current.id, seq);
  }

  // ---------------------------------------------------------------- receipts, typing, presence

  function updateReceipt(event) {
    const receipt = $("#receipt");
    if (!receipt || !current || event.channel_id !== current.id || event.user_id === me.id) return;
    const mine = $$("article.message", inner).filter((el) => Number(el.dataset.userId) === me.id);
    const last = mine[mine.length - 1];
    if (!last || Number(last.dataset.seq) > event.seq) return;
    const rank = { delivered: 1, seen: 2 };
    if ((rank[receipt.dataset.status] || 0) > rank[event.status] && receipt.dataset.seq === last.dataset.seq) return;
    receipt.dataset.status = event.status;
    receipt.dataset.seq = last.dataset.seq;
    receipt.textContent = event.status === "seen" ? "Seen" : "Delivered";
    receipt.hidden = false;
  }

  const typists = new Map();
  function showTyping(event) {
    if (!current || event.channel_id !== current.id) return;
    clearTimeout(typists.get(event.user_id)?.timer);
    const timer = setTimeout(() => {
      typists.delete(event.user_id);
      renderTyping();
    }, 5000);
    typists.set(event.user_id, { name: event.name, timer });
    renderTyping();
  }

  function renderTyping() {
    const el = $("#typing");
    if (!el) return;
    const names = Array.from(typists.values()).map((t) => t.name);
    el.textContent =
      names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]} are typing…`;
  }

  function showPresence(event) {
    $$(`[data-presence-user="${event.user_id}"]`).forEach((dot) => {
      dot.dataset.status = event.status;
      dot.title = event.status.charAt(0).toUpperCase() + event.status.slice(1);
    });
  }

  function watchedUsers() {
    const ids = new Set();
    $$("[data-presence-user]").forEach((el) => {
      el.dataset.presenceUser.split(",").forEach((id) => id && ids.add(Number(id)));
    });
    return Array.from(ids);
  }

  // ---------------------------------------------------------------- the socket

  const socket = {
    ws: null,
    ready: false,
    attempt: 0,
    pingTimer: null,
    send(frame) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify(frame));
        return true;
      }
      return false;
    },
  };

  function setStatus(text) {
    const el = $("#conn-status");
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws`);
    socket.ws = ws;
    ws.addEventListener("open", () => {
      const cursors = {};
      // The open channel resumes from what it shows; the rest follow live.
      if (current && !current.viewingHistory) cursors[current.id] = lastShownSeq();
      ws.send(JSON.stringify({ type: "hello", cursors }));
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      handle(frame);
    });
    ws.addEventListener("close", (event) => {
      socket.ready = false;
      clearInterval(socket.pingTimer);
      if (event.code === 4001) {
        setStatus("You were logged out. Reload to log in again.");
        return;
      }
      // Back off with jitter so a restarted server is not stampeded.
      const delay = Math.min(30000, 500 * 2 ** socket.attempt) * (0.5 + Math.random());
      socket.attempt += 1;
      if (socket.attempt > 1) setStatus("Reconnecting…");
      setTimeout(connect, delay);
    });
  }

  function handle(frame) {
    switch (frame.type) {
      case "ready": {
        socket.ready = true;
        socket.attempt = 0;
        setStatus("");
        frame.channels.forEach((c) => {
          channels.set(c.id, { last_seq: c.last_seq, last_read_seq: c.last_read_seq });
          const link = sidebarLink(c.id);
          if (link && c.id !== current?.id && c.last_seq <= c.last_read_seq) setBadge(link, 0, 0);
          else if (link && c.id !== current?.id) link.classList.add("unread");
        });
        clearInterval(socket.pingTimer);
        socket.pingTimer = setInterval(() => socket.send({ type: "ping" }), 30000);
        const watch = watchedUsers();
        if (watch.length) socket.send({ type: "presence.subscribe", user_ids: watch });
        // Whatever was typed while away goes out again with the same client_msg_id.
        pending.forEach((entry, id) => socket.send({ type: "send", channel_id: entry.channel_id, client_msg_id: id, text: entry.text }));
        markReadIfSeen();
        break;
      }
      case "message": {
        const state = channels.get(frame.channel_id) || { last_seq: 0, last_read_seq: 0 };
        state.last_seq = Math.max(state.last_seq, frame.seq);
        if (frame.message.user_id === me.id) state.last_read_seq = Math.max(state.last_read_seq, frame.seq);
        channels.set(frame.channel_id, state);
        if (current && frame.channel_id === current.id && !current.viewingHistory) {
          const wasAtBottom = nearBottom();
          const article = insertMessage(frame.seq, frame.html, frame.message.client_msg_id);
          if (article && frame.message.user_id !== me.id) {
            if (!visibleAndFocused()) showNewMessagesLine(article);
            if (current.kind === "dm" || current.kind === "group_dm") socket.send({ type: "delivered", channel_id: frame.channel_id, seq: frame.seq });
          }
          if (article && wasAtBottom) list.scrollTop = 0;
          markReadIfSeen();
          if (frame.message.user_id !== me.id && !visibleAndFocused()) countUnread(frame.channel_id, frame.message);
        } else {
          countUnread(frame.channel_id, frame.message);
          const link = sidebarLink(frame.channel_id);
          if (link && (link.dataset.kind === "dm" || link.dataset.kind === "group_dm") && frame.message.user_id !== me.id) {
            socket.send({ type: "delivered", channel_id: frame.channel_id, seq: frame.seq });
          }
        }
        break;
      }
      case "message.updated": {
        const old = document.getElementById("m-" + frame.seq);
        if (old && current && frame.channel_id === current.id) {
          const article = fromHtml(frame.html);
          if (old.classList.contains("continued")) article.classList.add("continued");
          old.replaceWith(article);
          localiseTimes(article);
          addOwnActions(article);
        }
        break;
      }
      case "message.deleted": {
        const old = document.getElementById("m-" + frame.seq);
        if (old && current && frame.channel_id === current.id) {
          old.classList.add("deleted");
          const body = $(".message-body", old);
          if (body) body.outerHTML = '<p class="tombstone">This message was deleted.</p>';
          $$(".message-actions, .edited", old).forEach((el) => el.remove());
        }
        break;
      }
      case "ack": {
        const entry = pending.get(frame.client_msg_id);
        if (entry && entry.element) {
          entry.element.classList.remove("pending");
          $(".pending-note", entry.element)?.remove();
        }
        break;
      }
      case "gap":
        if (current && frame.channel_id === current.id) fetchRange(frame.after_seq, frame.last_seq);
        break;
      case "read":
        applyReadPoint(frame.channel_id, frame.seq);
        break;
      case "receipt":
        updateReceipt(frame);
        break;
      case "typing":
        showTyping(frame);
        break;
      case "presence":
        showPresence(frame);
        break;
      case "channel.joined": {
        channels.set(frame.channel.id, { last_seq: frame.channel.last_seq, last_read_seq: frame.channel.last_read_seq });
        break;
      }
      case "channel.left":
        channels.delete(frame.channel_id);
        sidebarLink(frame.channel_id)?.closest("li")?.remove();
        break;
      case "error":
        if (frame.client_msg_id && pending.has(frame.client_msg_id)) failPending(frame.client_msg_id, frame.message);
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- the composer

  function newClientMsgId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "c-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function showPending(id, text) {
    const article = document.createElement("article");
    article.className = "message pending mine";
    article.dataset.userId = String(me.id);
    const main = document.createElement("div");
    main.className = "message-main";
    const body = document.createElement("div");
    body.className = "message-body";
    body.textContent = text;
    const note = document.createElement("span");
    note.className = "pending-note";
    note.textContent = "Sending…";
    main.append(body, note);
    article.append(document.createElement("span"), main);
    article.firstElementChild.className = "avatar-spacer";
    inner.appendChild(article);
    list.scrollTop = 0;
    return article;
  }

  function failPending(id, why) {
    const entry = pending.get(id);
    pending.delete(id);
    if (entry && entry.element) entry.element.remove();
    const box = $("form.composer textarea[name=text]");
    if (box && !box.value) box.value = entry ? entry.text : "";
    const error = $("#composer-error") || document.createElement("p");
    error.id = "composer-error";
    error.className = "alert";
    error.setAttribute("role", "alert");
    error.textContent = why;
    $("form.composer").prepend(error);
  }

  function setUpComposer(form) {
    const box = $("textarea[name=text]", form);
    if (!box) return;
    const grow = () => {
      box.style.height = "auto";
      box.style.height = Math.min(box.scrollHeight, window.innerHeight * 0.4) + "px";
    };
    let lastTyping = 0;
    box.addEventListener("input", () => {
      grow();
      const now = Date.now();
      if (socket.ready && current && now - lastTyping > 3000 && box.value.trim()) {
        lastTyping = now;
        socket.send({ type: "typing", channel_id: current.id });
      }
    });
    box.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      if (box.value.trim() === "") return;
      form.requestSubmit();
    });
    form.addEventListener("submit", (event) => {
      const text = box.value;
      if (!socket.ready || !current || text.trim() === "" || text.length > 40000) return; // the form posts as usual
      event.preventDefault();
      const id = newClientMsgId();
      pending.set(id, { channel_id: current.id, text, element: showPending(id, text) });
      socket.send({ type: "send", channel_id: current.id, client_msg_id: id, text });
      box.value = "";
      grow();
      $("#composer-error")?.remove();
    });
    grow();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  // ---------------------------------------------------------------- idle → away

  let idleTimer = null;
  let away = false;
  function activity() {
    if (away) {
      away = false;
      socket.send({ type: "presence.set", status: "online" });
    }
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      away = true;
      socket.send({ type: "presence.set", status: "away" });
    }, 5 * 60 * 1000);
  }

  // ---------------------------------------------------------------- start

  document.addEventListener("DOMContentLoaded", () => {
    $$("form.composer").forEach(setUpComposer);
    localiseTimes(document);
    confirmDestructive(document);
    selectOnFocus();
    const line = document.getElementById("new");
    if (line) line.scrollIntoView({ block: "center" });
    if (!app || !window.WebSocket) return;
    $$("article.message", inner || document).forEach(addOwnActions);
    connect();
    ["mousemove", "keydown", "focus"].forEach((name) => window.addEventListener(name, activity, { passive: true }));
    window.addEventListener("focus", markReadIfSeen);
    document.addEventListener("visibilitychange", markReadIfSeen);
    if (list) list.addEventListener("scroll", markReadIfSeen, { passive: true });
    activity();
  });
})();
