// Natter's browser script. Plain JavaScript, no build step. Every page works without it;
// this only makes the composer behave like a chat app and shows times in the reader's zone.
"use strict";

(function () {
  // Composer: Enter sends, Shift+Enter makes a new line, the box grows with its text.
  function setUpComposer(form) {
    const box = form.querySelector("textarea[name=text]");
    if (!box) return;
    const grow = () => {
      box.style.height = "auto";
      box.style.height = Math.min(box.scrollHeight, window.innerHeight * 0.4) + "px";
    };
    box.addEventListener("input", grow);
    box.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      if (box.value.trim() === "") return;
      if (form.dataset.sending === "1") return;
      form.dataset.sending = "1";
      form.requestSubmit();
    });
    form.addEventListener("submit", () => {
      form.dataset.sending = "1";
    });
    grow();
    // Put the caret at the end of a kept draft.
    box.setSelectionRange(box.value.length, box.value.length);
  }

  // Times are rendered in UTC by the server; show them in the reader's own time zone.
  function localiseTimes(root) {
    const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
    const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
    root.querySelectorAll("time[datetime]").forEach((el) => {
      const at = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(at.getTime())) return;
      if (el.closest(".message")) el.textContent = clock.format(at);
      el.title = full.format(at);
    });
  }

  // Forms that destroy something ask first.
  function confirmDestructive(root) {
    root.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  function selectOnFocus(root) {
    root.querySelectorAll("[data-select-on-focus]").forEach((input) => {
      input.addEventListener("focus", () => input.select());
      input.focus();
    });
  }

  // The list opens at the bottom by itself (column-reverse); bring the "New messages" line
  // into view when there is one.
  function showNewMessagesLine() {
    const line = document.getElementById("new");
    if (line) line.scrollIntoView({ block: "center" });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form.composer").forEach(setUpComposer);
    localiseTimes(document);
    confirmDestructive(document);
    selectOnFocus(document);
    showNewMessagesLine();
  });
})();
