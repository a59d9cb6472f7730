// Small DOM helpers, and the page behaviours that need no socket: times in the reader's own
// zone, a question before a destructive form posts, an input that selects itself on focus.
// Nothing here knows about channels, messages or frames; every other module may import this
// one, and it imports none of them.

export const $ = (selector, root) => (root || document).querySelector(selector);
export const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

// The session's CSRF token, for requests a script makes (as `X-CSRF-Token` or a form field).
export const csrfToken = () => $('meta[name="csrf-token"]')?.content || "";

// A fresh copy of the element inside a server-rendered <template id="…">, so that markup is
// written once, in an askama partial, and never again in JavaScript. Null if the page has no
// such template (it is only drawn where it can be used).
export function fromTemplate(id) {
  const template = document.getElementById(id);
  return template ? template.content.firstElementChild.cloneNode(true) : null;
}

// The element of a partial the server rendered for a frame or a JSON page. Parsed inside a
// <template> so that nothing in it loads or runs before it is placed.
export function fromServerHtml(html) {
  const box = document.createElement("template");
  box.innerHTML = html.trim();
  return box.content.firstElementChild;
}

// In the zone the reader chose in their profile, else their browser's.
function zone() {
  const chosen = document.querySelector("[data-time-zone]")?.dataset.timeZone;
  try {
    return chosen ? new Intl.DateTimeFormat(undefined, { timeZone: chosen }).resolvedOptions().timeZone : undefined;
  } catch {
    return undefined;
  }
}
let clock = null;
let full = null;
function formats() {
  if (!clock) {
    const timeZone = zone();
    clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", timeZone });
    full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short", timeZone });
  }
  return { clock, full };
}

// The server renders times in UTC; here they are shown in the reader's zone.
export function localiseTimes(root) {
  const { clock, full } = formats();
  $$("time[datetime]", root).forEach((el) => {
    const at = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) return;
    if (el.closest(".message") || el.hasAttribute("data-clock")) el.textContent = clock.format(at);
    el.title = full.format(at);
  });
}

// Called again on every message that arrives live, so a form is bound once and marked.
export function confirmDestructive(root) {
  $$("form[data-confirm]", root).forEach((form) => {
    if (form.dataset.confirmBound) return;
    form.dataset.confirmBound = "1";
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
}

// For links meant to be copied (invites): one click selects the whole of it.
export function selectOnFocus() {
  $$("[data-select-on-focus]").forEach((input) => {
    input.addEventListener("focus", () => input.select());
    input.focus();
  });
}
