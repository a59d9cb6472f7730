// The lightbox: a click on an image in a message (`a.lightbox-link`, the server's thumbnail
// linking to the full image) shows the full image over the page, in a modal <dialog> copied
// once from the server's <template id="lightbox">, with its name, a download link, and ←/→
// through the other images of the same list. Clicks are caught on the document, so images
// in messages that arrived live work too. A modified click (a new tab), or a page without
// the template, leaves the link to open the image in a new tab, as it does without a script.

import { $, $$, fromTemplate } from "./dom.js";

let dialog = null;
/** The links ←/→ step through, and which of them is on show. */
let links = [];
let index = 0;

function downloadUrl(url) {
  const u = new URL(url, location.href);
  u.searchParams.set("download", "1");
  return u.pathname + u.search;
}

// The images of the list the clicked one is in, in reading order: the channel's, or the open
// thread's (which repeats its root, so the two are not mixed).
function imagesBeside(link) {
  const list = link.closest(".thread-messages, .messages-inner") || document;
  return $$("a.lightbox-link[data-lightbox]", list);
}

// The thumbnail is loaded already: it stands in until the full image is here, so the dialog
// never shows the previous image under the new name.
function showImage(link) {
  const image = $(".lightbox-image", dialog);
  const full = link.dataset.lightbox;
  image.src = $("img", link)?.currentSrc || full;
  image.alt = link.dataset.name || "";
  const loader = new Image();
  loader.addEventListener("load", () => {
    if (links[index] === link && dialog.open) image.src = loader.src;
  });
  loader.src = full;
}

function show(at) {
  index = Math.max(0, Math.min(links.length - 1, at));
  const link = links[index];
  const name = link.dataset.name || "";
  showImage(link);
  $(".lightbox-name", dialog).textContent = name;
  $(".lightbox-name", dialog).title = name;
  const download = $(".lightbox-download", dialog);
  download.href = downloadUrl(link.dataset.lightbox);
  download.setAttribute("download", name);
  download.setAttribute("aria-label", `Download ${name}`);
  const many = links.length > 1;
  $(".lightbox-count", dialog).textContent = many ? `${index + 1} of ${links.length}` : "";
  const prev = $(".lightbox-prev", dialog);
  const next = $(".lightbox-next", dialog);
  // A step button that gets disabled under the focus hands it to the other one, or the focus
  // would fall out of the dialog, and the arrow keys with it.
  const focused = document.activeElement;
  prev.hidden = next.hidden = !many;
  prev.disabled = index === 0;
  next.disabled = index === links.length - 1;
  if (focused === prev && prev.disabled) next.focus();
  if (focused === next && next.disabled) prev.focus();
}

function step(by) {
  if (links.length > 1) show(index + by);
}

function build() {
  dialog = fromTemplate("lightbox");
  if (!dialog) return null;
  document.body.appendChild(dialog);
  $(".lightbox-close", dialog).addEventListener("click", () => dialog.close());
  $(".lightbox-prev", dialog).addEventListener("click", () => step(-1));
  $(".lightbox-next", dialog).addEventListener("click", () => step(1));
  // Escape is the dialog's own (it closes a modal dialog); the arrows are ours.
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    event.preventDefault();
    step(event.key === "ArrowLeft" ? -1 : 1);
  });
  // A click on the dark around the image closes, as anywhere else images are shown so.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog || event.target.classList.contains("lightbox-stage")) dialog.close();
  });
  // Focus goes back to the image last shown, which scrolls it into view after ←/→.
  dialog.addEventListener("close", () => {
    $(".lightbox-image", dialog).removeAttribute("src");
    links[index]?.focus();
  });
  return dialog;
}

export function watchLightbox() {
  document.addEventListener("click", (event) => {
    const link = event.target.closest?.("a.lightbox-link[data-lightbox]");
    if (!link || event.defaultPrevented) return;
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    if (!dialog && !build()) return;
    event.preventDefault();
    links = imagesBeside(link);
    show(links.indexOf(link));
    if (!dialog.open) dialog.showModal();
  });
}
