// People as pages show them: the card that opens from any name or picture, and how names,
// pictures and statuses change in place when someone edits their profile (`user.updated`).
// Which people a page shows is read from its data-user-* attributes; the socket watches them
// (the same subscription that brings their presence).

import { $$, fromServerHtml, localiseTimes } from "./dom.js";
import { page } from "./page.js";
import { send } from "./socket.js";

const PEOPLE = "[data-user-card], [data-user-name], [data-user-avatar], [data-presence-user]";

/** Every user id the page shows. */
export function shownPeople(root) {
  const ids = new Set();
  $$(PEOPLE, root).forEach((el) => {
    const d = el.dataset;
    [d.userCard, d.userName, d.userAvatar, ...(d.presenceUser || "").split(",")].forEach((id) => id && ids.add(Number(id)));
  });
  return ids;
}

const watched = new Set();

/** Subscribes to the people the page shows that the socket does not watch yet. */
export function watchShown() {
  const fresh = Array.from(shownPeople()).filter((id) => !watched.has(id));
  if (!fresh.length) return;
  fresh.forEach((id) => watched.add(id));
  send({ type: "presence.subscribe", user_ids: fresh });
}

export function onReady() {
  watched.clear();
  watchShown();
}

// A message from someone new on this page: watch them too.
export function onMessage() {
  watchShown();
}

// ---------------------------------------------------------------- user.updated

const statusTimers = new Map();

export function onUserUpdated(frame) {
  const id = frame.user_id;
  $$(`[data-user-name="${id}"]`).forEach((el) => (el.textContent = frame.name));
  $$(`[data-user-avatar="${id}"]`).forEach((old) => {
    const size = Array.from(old.classList).filter((c) => c === "small" || c === "large" || c === "tiny");
    let fresh;
    if (frame.avatar_url) {
      fresh = document.createElement("img");
      fresh.src = frame.avatar_url;
      fresh.alt = "";
    } else {
      fresh = document.createElement("span");
      fresh.textContent = frame.initials;
      fresh.classList.add(`hue-${((id % 12) + 12) % 12}`);
    }
    fresh.classList.add("avatar", ...size);
    fresh.setAttribute("aria-hidden", "true");
    fresh.dataset.userAvatar = String(id);
    old.replaceWith(fresh);
  });
  $$(`[data-user-title="${id}"]`).forEach((el) => {
    el.textContent = frame.title;
    el.hidden = !frame.title;
  });
  showStatus(id, frame.status_glyph, frame.status_text);
  clearTimeout(statusTimers.get(id));
  if (frame.status_expiration > 0) {
    const left = frame.status_expiration * 1000 - Date.now();
    statusTimers.set(id, setTimeout(() => showStatus(id, "", ""), Math.max(0, left)));
  }
}

function showStatus(id, glyph, text) {
  $$(`[data-user-status="${id}"]`).forEach((el) => {
    el.textContent = glyph;
    el.title = text;
    el.hidden = !glyph;
  });
  $$(`[data-user-status-text="${id}"]`).forEach((el) => (el.textContent = text));
  $$(`[data-user-status-line="${id}"]`).forEach((el) => (el.hidden = !glyph && !text));
}

// ---------------------------------------------------------------- the card

let open = null;

function closeCard() {
  if (!open) return;
  const { card, from } = open;
  open = null;
  card.remove();
  from.focus?.();
}

async function openCard(link) {
  closeCard();
  const id = link.dataset.userCard;
  const query = new URLSearchParams({ card: "1" });
  if (page.workspace) query.set("w", page.workspace);
  const response = await fetch(`/people/${id}?${query}`, { headers: { Accept: "text/html" } });
  if (!response.ok) return void (window.location.href = link.href);
  const card = document.createElement("div");
  card.className = "popover person-popover";
  card.setAttribute("role", "dialog");
  card.setAttribute("aria-modal", "false");
  card.tabIndex = -1;
  card.append(fromServerHtml(await response.text()));
  card.setAttribute("aria-labelledby", `person-${id}`);
  document.body.append(card);
  const at = link.getBoundingClientRect();
  const width = card.offsetWidth;
  card.style.left = `${Math.max(8, Math.min(at.left, window.innerWidth - width - 8))}px`;
  const below = at.bottom + 6;
  card.style.top = `${below + card.offsetHeight > window.innerHeight ? Math.max(8, at.top - card.offsetHeight - 6) : below}px`;
  localiseTimes(card);
  open = { card, from: link };
  card.focus();
  watchShown();
}

export function watchCards() {
  document.addEventListener("click", (event) => {
    const link = event.target.closest?.("a[data-user-card]");
    if (open && !open.card.contains(event.target) && !link) closeCard();
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    openCard(link);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && open) {
      event.preventDefault();
      closeCard();
    }
  });
}
