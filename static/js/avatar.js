// The profile page's picture: the chosen file drawn on a canvas with a square over it that the
// person drags (and sizes with the slider) to pick what to keep. The square goes to the server
// as crop_x, crop_y and crop_size in the picture's own pixels; the server does the cutting and
// scaling. Without this script the server keeps the middle square.

import { $ } from "./dom.js";

export function setUpAvatarCropper() {
  const input = $("#avatar");
  const canvas = $("#crop-canvas");
  if (!input || !canvas) return;
  const zoom = $("#crop-zoom");
  const ctx = canvas.getContext("2d");
  const state = { image: null, scale: 1, x: 0, y: 0, size: 0, drag: null };

  const fields = () => {
    $("#crop-x").value = Math.round(state.x);
    $("#crop-y").value = Math.round(state.y);
    $("#crop-size").value = Math.round(state.size);
  };

  const draw = () => {
    const { image, scale } = state;
    if (!image) return;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(image, 0, 0, image.naturalWidth * scale, image.naturalHeight * scale);
    ctx.fillStyle = "rgba(0, 0, 0, 0.5)";
    const [x, y, s] = [state.x * scale, state.y * scale, state.size * scale];
    const w = image.naturalWidth * scale;
    const h = image.naturalHeight * scale;
    ctx.fillRect(0, 0, w, y);
    ctx.fillRect(0, y + s, w, h - y - s);
    ctx.fillRect(0, y, x, s);
    ctx.fillRect(x + s, y, w - x - s, s);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 2;
    ctx.strokeRect(x, y, s, s);
    fields();
  };

  const clamp = () => {
    const { image } = state;
    state.x = Math.min(Math.max(0, state.x), image.naturalWidth - state.size);
    state.y = Math.min(Math.max(0, state.y), image.naturalHeight - state.size);
  };

  input.addEventListener("change", () => {
    const file = input.files?.[0];
    if (!file || !file.type.startsWith("image/")) return;
    const image = new Image();
    image.onload = () => {
      const longer = Math.max(image.naturalWidth, image.naturalHeight);
      state.scale = 320 / longer;
      canvas.width = Math.round(image.naturalWidth * state.scale);
      canvas.height = Math.round(image.naturalHeight * state.scale);
      state.image = image;
      const shorter = Math.min(image.naturalWidth, image.naturalHeight);
      state.size = shorter;
      state.x = (image.naturalWidth - shorter) / 2;
      state.y = (image.naturalHeight - shorter) / 2;
      zoom.value = "100";
      $("#cropper").hidden = false;
      draw();
    };
    // A data: URL, which the Content-Security-Policy allows for images (blob: it does not).
    const reader = new FileReader();
    reader.onload = () => (image.src = reader.result);
    reader.readAsDataURL(file);
  });

  zoom.addEventListener("input", () => {
    if (!state.image) return;
    const shorter = Math.min(state.image.naturalWidth, state.image.naturalHeight);
    const middle = [state.x + state.size / 2, state.y + state.size / 2];
    state.size = (shorter * Number(zoom.value)) / 100;
    state.x = middle[0] - state.size / 2;
    state.y = middle[1] - state.size / 2;
    clamp();
    draw();
  });

  // Where the pointer is in the canvas's own pixels (CSS may draw it smaller on a phone).
  const at = (event) => {
    const ratio = canvas.width / (canvas.clientWidth || canvas.width);
    return { x: event.offsetX * ratio, y: event.offsetY * ratio };
  };
  canvas.addEventListener("pointerdown", (event) => {
    if (!state.image) return;
    canvas.setPointerCapture(event.pointerId);
    state.drag = at(event);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!state.drag) return;
    const now = at(event);
    state.x += (now.x - state.drag.x) / state.scale;
    state.y += (now.y - state.drag.y) / state.scale;
    state.drag = now;
    clamp();
    draw();
  });
  canvas.addEventListener("pointerup", () => (state.drag = null));
  // The keyboard moves the square too.
  canvas.tabIndex = 0;
  canvas.addEventListener("keydown", (event) => {
    const step = state.image ? Math.max(1, state.size / 20) : 0;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    state.x += move[0];
    state.y += move[1];
    clamp();
    draw();
  });
}
