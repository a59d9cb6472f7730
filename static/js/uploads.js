// Files for the composer. Each file picked with the paperclip, dropped on the conversation or
// pasted into a composer uploads at once and alone to `POST /w/<slug>/files` (XMLHttpRequest,
// because fetch cannot report upload progress), and shows as a chip copied from the server's
// <template id="upload-chip"> until its message is sent. The message then names the finished
// files by id; composer.js asks each form's tray for them. Without the script the form's own
// file input posts the files with the message (multipart), so that input is emptied after
// every pick here: the files must not go twice.

import { $, csrfToken, fromTemplate } from "./dom.js";
import { page } from "./page.js";

/** form → its tray (see setUpUploads). */
const trays = new WeakMap();

export const trayOf = (form) => (form && trays.get(form)) || null;

// "17 bytes", "812 KB", "2.4 MB": as the server's files::size_label, so a chip reads the same
// before its upload as after it.
function sizeLabel(bytes) {
  const kb = 1024;
  if (bytes < kb) return `${bytes} bytes`;
  if (bytes < kb * kb) return `${Math.round(bytes / kb)} KB`;
  if (bytes < kb * kb * kb) return `${(bytes / kb / kb).toFixed(1)} MB`;
  return `${(bytes / kb / kb / kb).toFixed(1)} GB`;
}

const KINDS = {
  "application/pdf": "PDF",
  "application/zip": "ZIP",
  "text/plain": "Text",
  "text/csv": "CSV",
  "application/json": "JSON",
  "text/html": "HTML",
};

// The word in the icon square: as the server's files::types::kind_label, so the chip matches
// the card its message will show.
function kindLabel(type, name) {
  if (KINDS[type]) return KINDS[type];
  const family = { image: "Image", video: "Video", audio: "Audio" }[type.split("/")[0]];
  if (family) return family;
  const dot = name.lastIndexOf(".");
  const ext = dot >= 0 ? name.slice(dot + 1) : "";
  return ext && ext.length <= 5 ? ext.toUpperCase() : "File";
}

// A pasted screenshot may have no name, and the server wants one.
function nameOf(file) {
  if (file.name) return file.name;
  const ext = (file.type.split("/")[1] || "bin").replace(/[^a-z0-9]/gi, "");
  return `pasted-${new Date().toISOString().slice(0, 19).replace(/[T:]/g, "-")}.${ext}`;
}

// What a refused upload means when the answer is not Natter's JSON (the upload was cut off,
// or a proxy answered).
function statusMessage(status) {
  if (status === 413) return "That file is too large to share here.";
  if (status === 429) return "Too many uploads at once. Wait a moment and try again.";
  if (status === 0) return "The upload was cut off: the file may be too large, or the connection dropped.";
  return `The upload failed (error ${status}). Try again.`;
}

// ---------------------------------------------------------------- chips

// Draws an item's chip from its state: "uploading", "done" or "failed".
function drawChip(item) {
  const chip = item.chip;
  chip.dataset.state = item.state;
  $(".upload-name", chip).textContent = item.name;
  $(".upload-name", chip).title = item.name;
  $(".upload-detail", chip).textContent =
    item.state === "uploading" ? `${item.sizeLabel} · uploading…` : `${item.sizeLabel} · ${item.kind}`;
  const progress = $(".upload-progress", chip);
  progress.hidden = item.state !== "uploading";
  progress.setAttribute("aria-label", `Uploading ${item.name}`);
  // Until the first progress event the bar is indeterminate (no value at all).
  if (item.progress !== null) progress.value = Math.round(item.progress * 100);
  const error = $(".upload-error", chip);
  error.hidden = item.state !== "failed";
  error.textContent = item.error || "";
  // An image's thumbnail exists once the server has the image; until then the kind stands in.
  const thumb = $(".upload-thumb", chip);
  const icon = $(".file-icon", chip);
  if (item.thumbUrl && thumb.getAttribute("src") !== item.thumbUrl) thumb.src = item.thumbUrl;
  thumb.hidden = !item.thumbUrl;
  icon.hidden = Boolean(item.thumbUrl);
  icon.textContent = item.kind;
  const remove = $(".upload-remove", chip);
  const label = item.state === "uploading" ? `Cancel uploading ${item.name}` : `Remove ${item.name}`;
  remove.setAttribute("aria-label", label);
  remove.title = item.state === "uploading" ? "Cancel upload" : "Remove";
}

// ---------------------------------------------------------------- a form's tray

// What a send keeps of an uploaded file: enough to name it, and to draw its chip again.
const uploaded = ({ id, name, sizeLabel, kind, thumbUrl }) => ({ id, name, sizeLabel, kind, thumbUrl });

// Sets up a composer form's files and returns its tray, or null where the page cannot upload
// (no chip template, no list, no workspace): then the form's file input works as without
// the script.
export function setUpUploads(form) {
  // The server's limit, from the form (messages::MAX_FILES), never written twice.
  const maxFiles = Number(form.dataset.maxFiles) || Infinity;
  const list = $(".composer-files", form);
  const input = $("input[type=file]", form);
  if (!list || !input || !page.workspace || !document.getElementById("upload-chip")) return null;
  // The form's CSS hides the native input behind the paperclip only from here on.
  form.dataset.uploads = "on";
  /** { name, kind, sizeLabel, state, progress, error, id, thumbUrl, xhr, chip }, in order. */
  const items = [];
  /** Sends waiting for the uploads to end (see settled). */
  const waiters = [];

  const busy = () => items.some((item) => item.state === "uploading");
  const wake = () => {
    if (!busy()) waiters.splice(0).forEach((resolve) => resolve());
  };

  function remove(item) {
    const at = items.indexOf(item);
    if (at < 0) return;
    items.splice(at, 1);
    item.chip.remove();
    list.hidden = items.length === 0;
    if (item.xhr) {
      item.state = "cancelled";
      item.xhr.abort();
    }
    wake();
  }

  function show(item) {
    item.chip = fromTemplate("upload-chip");
    $(".upload-remove", item.chip).addEventListener("click", () => {
      // The chip and its button go; the focus stays in the composer.
      remove(item);
      $("textarea", form)?.focus();
    });
    drawChip(item);
    items.push(item);
    list.appendChild(item.chip);
    list.hidden = false;
  }

  function fail(item, why) {
    item.state = "failed";
    item.error = why;
    drawChip(item);
  }

  function upload(file) {
    const name = nameOf(file);
    const item = { name, kind: kindLabel(file.type, name), sizeLabel: sizeLabel(file.size) };
    Object.assign(item, { state: "uploading", progress: null });
    // Counted before this one joins; failed chips send nothing, so they do not count.
    const counted = items.filter((other) => other.state !== "failed").length;
    show(item);
    if (counted >= maxFiles) {
      fail(item, `One message can share at most ${maxFiles} files.`);
      return;
    }
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", `/w/${encodeURIComponent(page.workspace)}/files?name=${encodeURIComponent(name)}`);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable || item.state !== "uploading") return;
      item.progress = event.loaded / event.total;
      drawChip(item);
    });
    xhr.addEventListener("load", () => {
      const answer = xhr.response;
      if (xhr.status !== 200 || !answer?.ok) {
        fail(item, answer?.error || statusMessage(xhr.status));
        return;
      }
      const f = answer.file;
      Object.assign(item, { state: "done", id: f.id, name: f.name });
      Object.assign(item, { sizeLabel: f.size_label, thumbUrl: f.thumb_url });
      drawChip(item);
    });
    xhr.addEventListener("error", () => fail(item, statusMessage(0)));
    xhr.addEventListener("loadend", () => {
      item.xhr = null;
      wake();
    });
    xhr.send(file);
  }

  const tray = {
    /** Uploads each of a FileList (or array of Files), each with its own chip. */
    add(files) {
      Array.from(files).forEach(upload);
    },
    busy,
    /** Whether the message would share a file: uploaded, or still uploading. */
    hasFiles: () => items.some((item) => item.state === "done" || item.state === "uploading"),
    /** The uploaded files, in the order they were added: { id, name, sizeLabel, kind, thumbUrl }. */
    finished: () => items.filter((item) => item.state === "done").map(uploaded),
    /** Resolves once no upload is running (at once if none is). */
    settled: () =>
      new Promise((resolve) => {
        waiters.push(resolve);
        wake();
      }),
    /** After a send: the sent files go. Failed chips stay, so their reason can still be read. */
    clearFinished() {
      items.filter((item) => item.state === "done").forEach(remove);
    },
    /** A refused send gives its files back, as it gives back its text. */
    restore(files) {
      const shown = new Set(items.map((item) => item.id));
      files.filter((f) => !shown.has(f.id)).forEach((f) => show({ ...f, state: "done", progress: null }));
    },
  };

  input.addEventListener("change", () => {
    tray.add(input.files);
    input.value = "";
    $("textarea", form)?.focus();
  });
  form.addEventListener("paste", (event) => {
    const data = event.clipboardData;
    if (!data || !data.files.length) return;
    // Office apps put a picture of what was copied beside its text and HTML: that paste is
    // text. A screenshot, an image copied from a page, or a file copied in a file manager is
    // a file (their text, if any, is just its name).
    if (data.types.includes("text/html") && data.getData("text/plain").trim()) return;
    event.preventDefault();
    tray.add(data.files);
  });
  trays.set(form, tray);
  return tray;
}

// ---------------------------------------------------------------- drag and drop

const carriesFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");

// Where files dropped at `target` go: the open thread panel's composer, or the channel's. Null
// outside the two, or where there is no composer (not a member, archived).
function dropZoneAt(target) {
  if (!(target instanceof Element)) return null;
  const zone = target.closest(".thread-panel, .conversation");
  const tray = zone && trayOf($("form.composer", zone));
  return tray ? { zone, tray } : null;
}

// Dragging files over the page highlights where they would go; dropping them there uploads
// them in that composer. A drop anywhere else is refused rather than left to the browser,
// which would leave the page to show the file. Called after the composers are set up; pages
// without one are left alone.
export function watchDrops() {
  if (!trayOf($(".conversation form.composer"))) return;
  let highlighted = null;
  // dragenter and dragleave come in pairs per element crossed: at 0 the drag has left the page.
  let depth = 0;
  const highlight = (zone) => {
    if (zone === highlighted) return;
    highlighted?.classList.remove("drop-target");
    highlighted = zone;
    zone?.classList.add("drop-target");
  };
  const over = (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    const found = dropZoneAt(event.target);
    event.dataTransfer.dropEffect = found ? "copy" : "none";
    highlight(found ? found.zone : null);
  };
  document.addEventListener("dragenter", (event) => {
    if (carriesFiles(event)) depth += 1;
    over(event);
  });
  document.addEventListener("dragover", over);
  document.addEventListener("dragleave", (event) => {
    if (!carriesFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) highlight(null);
  });
  document.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth = 0;
    highlight(null);
    const found = dropZoneAt(event.target);
    if (!found || !event.dataTransfer.files.length) return;
    found.tray.add(event.dataTransfer.files);
    $("form.composer textarea", found.zone)?.focus();
  });
}
