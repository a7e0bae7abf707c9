// The approval page (templates/ai_processing/approval.html): a before/after slider on each
// image, and a 100 % view that loads the original and the edited file at full resolution in a
// pannable frame. The answers are plain forms (they work without this script).

const setSplit = (element, value) => element.style.setProperty("--split", `${value}%`);

for (const figure of document.querySelectorAll("figure.compare")) {
  const slider = figure.querySelector(".compare-slider");
  const frame = figure.querySelector(".compare-frame");
  setSplit(frame, slider.value);
  slider.addEventListener("input", () => setSplit(frame, slider.value));
  // Dragging on the picture moves the split too (the slider stays the keyboard's way).
  const follow = (event) => {
    const box = frame.getBoundingClientRect();
    const value = Math.round(Math.min(100, Math.max(0, ((event.clientX - box.left) / box.width) * 100)));
    slider.value = String(value);
    setSplit(frame, value);
  };
  frame.addEventListener("pointerdown", (event) => {
    frame.setPointerCapture(event.pointerId);
    follow(event);
  });
  frame.addEventListener("pointermove", (event) => {
    if (frame.hasPointerCapture(event.pointerId)) follow(event);
  });
  figure.querySelector(".zoom-open").addEventListener("click", () => openZoom(figure, slider.value));
}

const zoom = document.getElementById("zoom");
const pan = document.getElementById("zoom-pan");
const stage = document.getElementById("zoom-stage");
const before = document.getElementById("zoom-before");
const after = document.getElementById("zoom-after");
const zoomSlider = document.getElementById("zoom-slider");
const size = document.getElementById("zoom-size");

const loaded = (img) =>
  img.complete && img.naturalWidth
    ? Promise.resolve(img)
    : new Promise((resolve, reject) => {
        img.addEventListener("load", () => resolve(img), { once: true });
        img.addEventListener("error", () => reject(new Error("not loaded")), { once: true });
      });

async function openZoom(figure, split) {
  zoomSlider.value = split;
  setSplit(stage, split);
  size.textContent = "Loading the full-resolution files…";
  before.removeAttribute("src");
  after.removeAttribute("src");
  before.src = figure.dataset.fullBefore;
  after.src = figure.dataset.fullAfter;
  zoom.showModal();
  try {
    await Promise.all([loaded(before), loaded(after)]);
  } catch {
    size.textContent = "A full-resolution file could not be loaded.";
    return;
  }
  // 1:1 for the edited file (what is delivered); the original is drawn at the same size, so
  // the slider compares the same spot of both.
  const width = after.naturalWidth;
  const height = after.naturalHeight;
  for (const element of [stage, before, after]) {
    element.style.width = `${width}px`;
    element.style.height = `${height}px`;
  }
  size.textContent = `${width} × ${height} pixels at 100 % (original: ${before.naturalWidth} × ${before.naturalHeight})`;
  stage.dataset.ready = "true";
  pan.scrollLeft = (width - pan.clientWidth) / 2;
  pan.scrollTop = (height - pan.clientHeight) / 2;
  pan.focus();
}

zoomSlider.addEventListener("input", () => setSplit(stage, zoomSlider.value));
document.getElementById("zoom-close").addEventListener("click", () => zoom.close());
zoom.addEventListener("close", () => {
  delete stage.dataset.ready;
});

// Drag to pan (the scrollbars and the arrow keys pan too).
let drag = null;
pan.addEventListener("pointerdown", (event) => {
  drag = { x: event.clientX, y: event.clientY, left: pan.scrollLeft, top: pan.scrollTop };
  pan.setPointerCapture(event.pointerId);
  pan.classList.add("dragging");
});
pan.addEventListener("pointermove", (event) => {
  if (!drag) return;
  pan.scrollLeft = drag.left - (event.clientX - drag.x);
  pan.scrollTop = drag.top - (event.clientY - drag.y);
});
const stop = () => {
  drag = null;
  pan.classList.remove("dragging");
};
pan.addEventListener("pointerup", stop);
pan.addEventListener("pointercancel", stop);
