// The composer's completion: `@` offers the conversation's people (and @here, @channel,
// @everyone), `:` offers emoji by shortcode. ↑/↓ choose, Enter or Tab insert, Escape closes.
// The list is an ARIA listbox tied to the textarea, so screen readers follow the choice.

import { page } from "./page.js";
import { searchEmoji } from "./reactions.js";

const MANY = [
  { username: "here", name: "Notify everyone online in this conversation" },
  { username: "channel", name: "Notify everyone in this conversation" },
  { username: "everyone", name: "Notify everyone in this conversation" },
];

let people = null;

async function loadPeople() {
  if (people) return people;
  if (!page.openChannel) return [];
  const response = await fetch(`${page.openChannel.base}/people`, { credentials: "same-origin" });
  people = response.ok ? (await response.json()).people : [];
  return people;
}

// The `@word` or `:word` the caret is at the end of, if any.
function tokenAtCaret(box) {
  const before = box.value.slice(0, box.selectionStart);
  const match = /(^|[\s(])([@:])([\w.+-]*)$/.exec(before);
  if (!match) return null;
  const [, , sigil, word] = match;
  if (sigil === ":" && word.length < 2) return null;
  return { sigil, word, start: before.length - word.length - 1 };
}

async function suggestions(token) {
  const q = token.word.toLowerCase();
  if (token.sigil === ":") {
    return (await searchEmoji(q, 8)).map((row) => ({ label: `${row[0]} :${row[1]}:`, insert: `:${row[1]}: ` }));
  }
  const all = (await loadPeople()).concat(MANY);
  return all
    .filter((p) => p.username.startsWith(q) || p.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q)))
    .slice(0, 8)
    .map((p) => ({ label: `@${p.username} · ${p.name}`, insert: `@${p.username} ` }));
}

export function setUpCompletion(box) {
  const list = document.createElement("ul");
  list.className = "completion";
  list.id = `completion-${Math.random().toString(36).slice(2)}`;
  list.setAttribute("role", "listbox");
  list.hidden = true;
  box.parentElement.appendChild(list);
  box.setAttribute("aria-autocomplete", "list");
  box.setAttribute("aria-controls", list.id);
  let items = [];
  let chosen = 0;
  let token = null;

  const close = () => {
    list.hidden = true;
    items = [];
    box.removeAttribute("aria-activedescendant");
  };
  const draw = () => {
    list.replaceChildren(
      ...items.map((item, i) => {
        const li = document.createElement("li");
        li.id = `${list.id}-${i}`;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", String(i === chosen));
        li.textContent = item.label;
        li.addEventListener("mousedown", (event) => {
          event.preventDefault();
          chosen = i;
          insert();
        });
        return li;
      }),
    );
    list.hidden = items.length === 0;
    if (items.length) box.setAttribute("aria-activedescendant", `${list.id}-${chosen}`);
  };
  const insert = () => {
    const item = items[chosen];
    if (!item || !token) return close();
    const end = box.selectionStart;
    box.value = box.value.slice(0, token.start) + item.insert + box.value.slice(end);
    const caret = token.start + item.insert.length;
    box.setSelectionRange(caret, caret);
    close();
    box.dispatchEvent(new Event("input"));
  };

  box.addEventListener("input", async () => {
    token = tokenAtCaret(box);
    if (!token) return close();
    const asked = token;
    const found = await suggestions(asked);
    if (asked !== token) return; // typed on meanwhile
    items = found;
    chosen = 0;
    draw();
  });
  // Registered before the composer's own keydown (app.js sets this up first), so Enter picks a
  // suggestion instead of sending.
  box.addEventListener("keydown", (event) => {
    if (list.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      chosen = (chosen + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      draw();
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      event.stopImmediatePropagation();
      insert();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopImmediatePropagation();
      close();
    }
  });
  box.addEventListener("blur", () => setTimeout(close, 150));
}
