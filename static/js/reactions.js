// What people attach to messages: reaction chips (a click toggles yours), the emoji picker
// (search and "Frequently used"), pins and saves, all kept live by frames. A click posts the
// same form the page works with without scripts, as fetch; the frame that follows draws the
// change for everyone, the clicker included, so there is one path for every change.

import { $, $$, csrfToken, fromTemplate } from "./dom.js";
import { page } from "./page.js";

async function post(url, fields) {
  const body = new URLSearchParams({ csrf_token: csrfToken(), ...fields });
  const response = await fetch(url, {
    method: "POST",
    body,
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  return response.ok ? response.json() : null;
}

function messageUrl(seq, what) {
  return `${page.openChannel?.base || ""}/messages/${seq}/${what}`;
}

// Live messages arrive without anyone's buttons (the CSRF token differs per reader): the
// page's <template id="message-actions"> adds react, reply, pin and save.
export function addTools(article) {
  if (!article || article.classList.contains("deleted") || article.classList.contains("pending")) return;
  if ($(".message-tools", article)) return;
  const tools = fromTemplate("message-actions");
  if (!tools) return;
  $$("[data-react], [data-open-thread]", tools).forEach((el) => {
    if (el.dataset.react) el.dataset.react = article.dataset.seq;
  });
  $$("a[href], form[action]", tools).forEach((el) => {
    const attr = el.tagName === "A" ? "href" : "action";
    el.setAttribute(attr, el.getAttribute(attr).replace("SEQ", article.dataset.seq));
  });
  // Threads are one level deep: no "Reply in thread" on a reply or inside the panel.
  if (article.dataset.threadRoot || article.closest(".thread-messages")) $("[data-open-thread]", tools)?.remove();
  // Your own edit and delete, if added already, join the one toolbar.
  const own = $(":scope > .message-actions", article);
  if (own) tools.appendChild(own);
  article.appendChild(tools);
}

// An edit re-renders a message's text; its reactions and pin did not change.
export function keepAttachments(old, article) {
  const reactions = $(".reactions", old);
  const fresh = $(".reactions", article);
  if (reactions && fresh) fresh.replaceWith(reactions);
  if (old.classList.contains("pinned")) article.classList.add("pinned");
}

function copies(seq) {
  return ["m-", "t-"].map((p) => document.getElementById(p + seq)).filter(Boolean);
}

// ---------------------------------------------------------------- the picker

let catalogue = null;

async function loadCatalogue() {
  if (!catalogue) {
    const response = await fetch("/emoji.json", { credentials: "same-origin" });
    catalogue = response.ok ? await response.json() : [];
  }
  return catalogue;
}

async function frequent() {
  const slug = $(".app")?.dataset.workspace;
  const response = await fetch(`/w/${slug}/emoji/frequent`, { credentials: "same-origin" });
  return response.ok ? (await response.json()).names : [];
}

export function emojiFor(name) {
  return catalogue?.find((row) => row.slice(1, -1).includes(name))?.[0] || "";
}

/** Up to `limit` emoji whose shortcodes contain `text`, those starting with it first. */
export async function searchEmoji(text, limit) {
  const all = await loadCatalogue();
  const q = text.toLowerCase();
  const starts = [];
  const contains = [];
  for (const row of all) {
    const names = row.slice(1, -1);
    if (names.some((n) => n.startsWith(q))) starts.push(row);
    else if (names.some((n) => n.includes(q))) contains.push(row);
    if (starts.length >= limit) break;
  }
  return starts.concat(contains).slice(0, limit);
}

function emojiButton(row, onPick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "emoji-choice";
  button.textContent = row[0];
  button.title = `:${row[1]}:`;
  button.setAttribute("aria-label", row[1].replace(/_/g, " "));
  button.addEventListener("click", () => onPick(row[1]));
  return button;
}

let openPicker = null;

function closePicker() {
  openPicker?.remove();
  openPicker = null;
}

async function showPicker(anchor, seq) {
  closePicker();
  const picker = fromTemplate("emoji-picker");
  if (!picker) return;
  openPicker = picker;
  const pick = (name) => {
    closePicker();
    post(messageUrl(seq, "reactions"), { name }).then((answer) => {
      if (answer) setMine(seq, answer.name, answer.added);
    });
  };
  const search = $("input", picker);
  const results = $(".emoji-results", picker);
  const recent = $(".emoji-frequent", picker);
  const draw = async () => {
    const rows = await searchEmoji(search.value.trim().replace(/^:/, ""), 120);
    results.replaceChildren(...rows.map((row) => emojiButton(row, pick)));
  };
  search.addEventListener("input", draw);
  picker.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      closePicker();
      anchor.focus();
    }
    if (event.key === "Enter" && event.target === search) {
      event.preventDefault();
      $(".emoji-choice", results)?.click();
    }
  });
  anchor.closest("article")?.appendChild(picker);
  search.focus();
  await loadCatalogue();
  const names = await frequent();
  const rows = names.map((n) => catalogue.find((row) => row[1] === n.split("::")[0])).filter(Boolean);
  recent.replaceChildren(...rows.map((row) => emojiButton(row, pick)));
  recent.closest("section").hidden = rows.length === 0;
  await draw();
}

// ---------------------------------------------------------------- clicks

export function watchClicks() {
  document.addEventListener("click", (event) => {
    const react = event.target.closest("[data-react]");
    if (react) {
      event.preventDefault();
      showPicker(react, react.dataset.react);
      return;
    }
    if (openPicker && !openPicker.contains(event.target)) closePicker();
  });
  document.addEventListener("submit", (event) => {
    const form = event.target;
    const action = form.getAttribute("action") || "";
    if (!/\/messages\/\d+\/(reactions|pin|save)$|\/threads\/\d+\/follow$/.test(action)) return;
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(form));
    delete fields.csrf_token;
    post(action, fields).then((answer) => {
      // Your own chip follows your click's answer (a frame may gather others' changes too).
      if (answer && "added" in answer) setMine(action.match(/messages\/(\d+)\//)[1], answer.name, answer.added);
      // Following is the one change not published live: the answer says it.
      if (answer && "following" in answer) {
        $("input[name=follow]", form).value = answer.following ? "0" : "1";
        $("button", form).textContent = answer.following ? "Unfollow" : "Follow";
      }
    });
  });
}

const mine = new Map();

function setMine(seq, name, on) {
  mine.set(`${seq}:${name}`, on);
  copies(seq).forEach((article) => {
    const chip = $$(".reaction", article).find((b) => b.dataset.name === name);
    if (!chip) return;
    chip.classList.toggle("mine", on);
    chip.setAttribute("aria-pressed", String(on));
  });
}

// ---------------------------------------------------------------- frame handlers

function drawReaction(frame) {
  if (frame.channel_id !== page.openChannel?.id) return;
  copies(frame.seq).forEach((article) => {
    const box = $(".reactions", article);
    if (!box) return;
    let chip = $$(".reaction", box).find((b) => b.dataset.name === frame.name);
    if (frame.count === 0) {
      chip?.closest("form")?.remove();
    } else {
      if (!chip) {
        const form = fromTemplate("reaction-chip");
        if (!form) return;
        form.setAttribute("action", messageUrl(frame.seq, "reactions"));
        $("input[name=name]", form).value = frame.name;
        chip = $(".reaction", form);
        chip.dataset.name = frame.name;
        $(".glyph", chip).textContent = frame.glyph;
        box.appendChild(form);
      }
      $(".count", chip).textContent = String(frame.count);
      chip.title = frame.title;
      chip.setAttribute("aria-label", frame.title);
      const key = `${frame.seq}:${frame.name}`;
      const on = frame.user_id === page.me.id ? frame.type === "reaction.added" : mine.get(key);
      if (on !== undefined) {
        chip.classList.toggle("mine", on);
        chip.setAttribute("aria-pressed", String(on));
      }
    }
    box.hidden = !$(".reaction", box);
  });
}

export const onReactionAdded = drawReaction;
export const onReactionRemoved = drawReaction;

function drawPin(frame, pinned) {
  // The Pinned page drops what was unpinned.
  if (!pinned) document.getElementById(`pin-${frame.channel_id}-${frame.seq}`)?.remove();
  if (frame.channel_id !== page.openChannel?.id) return;
  copies(frame.seq).forEach((article) => {
    article.classList.toggle("pinned", pinned);
    const form = $(".pin-button", article)?.closest("form");
    if (!form) return;
    $("input[name=pin]", form).value = pinned ? "0" : "1";
    $(".pin-button", form).textContent = pinned ? "Unpin" : "Pin";
  });
}

export const onPinAdded = (frame) => drawPin(frame, true);
export const onPinRemoved = (frame) => drawPin(frame, false);

export function onSaved(frame) {
  // The Saved view drops what was unsaved anywhere (what was saved elsewhere shows on reload).
  if (!frame.saved) document.getElementById(`saved-${frame.channel_id}-${frame.seq}`)?.remove();
  if (frame.channel_id !== page.openChannel?.id) return;
  copies(frame.seq).forEach((article) => {
    article.classList.toggle("saved", frame.saved);
    const form = $(".save-button", article)?.closest("form");
    if (!form) return;
    $("input[name=save]", form).value = frame.saved ? "0" : "1";
    $(".save-button", form).textContent = frame.saved ? "Unsave" : "Save";
  });
}
