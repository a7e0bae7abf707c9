/* The crop editor (templates/orders/includes/crop_editor.html): one frame per print size over
   the image's preview, moved and resized by pointer or keyboard, saved through the prints API
   (PUT …/crops/<size>, DELETE for the automatic placement). The server keeps the frame to the
   size's exact aspect ratio and inside the picture; this script only keeps it close while the
   person works, and shows the effective DPI the frame gives (estimated until saved). */

import { csrfToken, requestJSON } from "./common.js";

const STEP = 0.01; // arrow keys: 1 % of the picture
const BIG_STEP = 0.05; // with Shift
const GROW = 0.02; // + and −
const MIN_WIDTH = 0.05;

function clamp(value, low, high) {
  return Math.min(Math.max(value, low), high);
}

class CropEditor {
  constructor(root) {
    this.root = root;
    this.api = root.dataset.printsApi;
    this.canEdit = root.dataset.canEdit === "1";
    this.sizes = root.querySelector("[data-crop-sizes]");
    this.stage = root.querySelector("[data-crop-stage]");
    this.box = root.querySelector("[data-crop-box]");
    this.handle = root.querySelector("[data-crop-handle]");
    this.status = root.querySelector("[data-crop-status]");
    this.actions = root.querySelector("[data-crop-actions]");
    this.crops = [];
    this.current = null; // index into crops
    this.frame = null; // {x, y, width, height} in fractions, as shown
    this.dirty = false;
  }

  async load() {
    let body;
    try {
      body = await requestJSON(this.api);
    } catch (error) {
      this.say(`The crops could not be loaded: ${error.message}`, "error");
      return;
    }
    this.crops = body.crops || [];
    if (body.crops_problem) {
      this.say(body.crops_problem, "error");
      return;
    }
    if (!this.crops.length) {
      this.say("No print size is ordered for this image: nothing to crop.");
      return;
    }
    this.buildSizes();
    this.stage.hidden = false;
    if (this.actions) this.actions.hidden = false;
    this.bind();
    this.choose(0);
  }

  buildSizes() {
    this.sizes.textContent = "";
    this.crops.forEach((crop, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button crop-size";
      button.textContent = crop.label;
      button.dataset.size = crop.size;
      button.dataset.testid = `crop-size-${crop.size}`;
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => this.choose(index));
      this.sizes.appendChild(button);
    });
  }

  choose(index) {
    this.current = index;
    const crop = this.crops[index];
    this.frame = { x: crop.x, y: crop.y, width: crop.width, height: crop.height };
    this.ratio = crop.width / crop.height; // kept while resizing (fractions of the picture)
    this.dirty = false;
    for (const button of this.sizes.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.size === crop.size));
    }
    this.render();
  }

  /* The DPI the frame gives, from the saved crop's pixels per fraction and the print's inches. */
  estimate() {
    const crop = this.crops[this.current];
    const perX = crop.pixels[0] / crop.width;
    const perY = crop.pixels[1] / crop.height;
    const pixelsW = Math.round(this.frame.width * perX);
    const pixelsH = Math.round(this.frame.height * perY);
    const inchesW = crop.needed[0] / crop.min_dpi;
    const inchesH = crop.needed[1] / crop.min_dpi;
    const dpi = Math.floor(Math.min(pixelsW / inchesW, pixelsH / inchesH) + 1e-9);
    return { pixelsW, pixelsH, dpi };
  }

  render() {
    const crop = this.crops[this.current];
    const f = this.frame;
    Object.assign(this.box.style, {
      left: `${f.x * 100}%`,
      top: `${f.y * 100}%`,
      width: `${f.width * 100}%`,
      height: `${f.height * 100}%`,
    });
    const { pixelsW, pixelsH, dpi } = this.dirty
      ? this.estimate()
      : { pixelsW: crop.pixels[0], pixelsH: crop.pixels[1], dpi: crop.dpi };
    const short = dpi < crop.min_dpi;
    this.box.classList.toggle("short", short);
    this.box.setAttribute(
      "aria-label",
      `${crop.label} crop frame: ${Math.round(f.x * 100)}% from the left, ${Math.round(f.y * 100)}% from the top, ` +
        `${Math.round(f.width * 100)}% of the width`
    );
    const how = this.dirty ? "not saved yet" : { faces: "around the faces", centre: "centred", manual: "set by hand" }[crop.basis] || "";
    let text = `${crop.label}: ${pixelsW}×${pixelsH} pixels, ${dpi} DPI`;
    text += short ? ` (needs ${crop.min_dpi} DPI: ${crop.needed[0]}×${crop.needed[1]} pixels)` : "";
    this.say(how ? `${text}; ${how}.` : `${text}.`, short ? "warning" : "info");
  }

  say(text, level = "info") {
    this.status.textContent = text;
    this.status.dataset.level = level;
  }

  set(frame) {
    const width = clamp(frame.width, MIN_WIDTH, 1);
    let height = width / this.ratio;
    let w = width;
    if (height > 1) {
      height = 1;
      w = this.ratio;
    }
    this.frame = {
      width: w,
      height,
      x: clamp(frame.x, 0, 1 - w),
      y: clamp(frame.y, 0, 1 - height),
    };
    this.dirty = true;
    this.render();
  }

  bind() {
    if (!this.canEdit) return;
    this.box.addEventListener("pointerdown", (event) => this.startDrag(event));
    this.box.addEventListener("keydown", (event) => this.onKey(event));
    this.root.querySelector("[data-crop-save]").addEventListener("click", () => this.save());
    this.root.querySelector("[data-crop-auto]").addEventListener("click", () => this.reset());
  }

  startDrag(event) {
    if (event.button !== 0) return;
    event.preventDefault();
    this.box.focus();
    const resizing = event.target === this.handle;
    const rect = this.stage.getBoundingClientRect();
    const start = { px: event.clientX, py: event.clientY, ...this.frame };
    const move = (e) => {
      const dx = (e.clientX - start.px) / rect.width;
      const dy = (e.clientY - start.py) / rect.height;
      if (resizing) {
        const width = Math.min(start.width + dx, 1 - start.x, (1 - start.y) * this.ratio);
        this.set({ x: start.x, y: start.y, width });
      } else {
        this.set({ x: start.x + dx, y: start.y + dy, width: start.width });
      }
    };
    const stop = () => {
      this.box.removeEventListener("pointermove", move);
      this.box.removeEventListener("pointerup", stop);
      this.box.removeEventListener("pointercancel", stop);
    };
    this.box.setPointerCapture(event.pointerId);
    this.box.addEventListener("pointermove", move);
    this.box.addEventListener("pointerup", stop);
    this.box.addEventListener("pointercancel", stop);
  }

  onKey(event) {
    const step = event.shiftKey ? BIG_STEP : STEP;
    const f = this.frame;
    const moves = {
      ArrowLeft: [-step, 0],
      ArrowRight: [step, 0],
      ArrowUp: [0, -step],
      ArrowDown: [0, step],
    };
    if (moves[event.key]) {
      const [dx, dy] = moves[event.key];
      this.set({ x: f.x + dx, y: f.y + dy, width: f.width });
    } else if (event.key === "+" || event.key === "=") {
      const width = Math.min(f.width + GROW, 1, this.ratio);
      this.set({ x: f.x - (width - f.width) / 2, y: f.y - (width - f.width) / this.ratio / 2, width });
    } else if (event.key === "-" || event.key === "−") {
      const width = Math.max(f.width - GROW, MIN_WIDTH);
      this.set({ x: f.x + (f.width - width) / 2, y: f.y + (f.width - width) / this.ratio / 2, width });
    } else if (event.key === "Enter") {
      this.save();
    } else {
      return; // every other key (Tab, the review page's shortcuts) goes on as usual
    }
    event.preventDefault();
    event.stopPropagation();
  }

  async send(method, body) {
    const crop = this.crops[this.current];
    const url = this.api.replace(/\/prints\/?$/, `/crops/${encodeURIComponent(crop.size)}`);
    try {
      const answer = await requestJSON(url, {
        method,
        body: body || undefined,
        csrf: csrfToken(this.root),
      });
      this.crops[this.current] = answer;
      this.choose(this.current);
      const saved = `Saved. ${this.status.textContent}`;
      this.say(saved, answer.short ? "warning" : "info");
      this.root.dispatchEvent(new CustomEvent("rkh:crop-saved", { bubbles: true, detail: answer }));
    } catch (error) {
      this.say(`The crop was not saved: ${error.message}`, "error");
    }
  }

  save() {
    const { x, y, width, height } = this.frame;
    return this.send("PUT", { x, y, width, height });
  }

  reset() {
    return this.send("DELETE");
  }
}

function start(root) {
  if (root.dataset.cropReady) return;
  root.dataset.cropReady = "1";
  new CropEditor(root).load();
}

for (const root of document.querySelectorAll("[data-crop-editor]")) {
  const details = root.closest("details");
  if (details && !details.open) {
    details.addEventListener("toggle", () => details.open && start(root));
  } else {
    start(root);
  }
}
