// The example's own picture beside the pointer on a latent map (ui/example_hover.py): the pictures of
// all the map's points arrive once, as one PNG atlas (tile i at row floor(i / cols), column i % cols);
// Plotly's hover over a point (its customdata holds the example's index) draws that tile in a small
// box beside the pointer, in the page, with nothing sent to the server.
//
// A message is a header and the PNG (unframe: decoder/frame.js, joined before this file), the PNG sent
// once per atlas and session; later messages carry the header alone.

const ATLASES = (window.__latentExplorerAtlases ??= new Map()); // key -> {bitmap, h}: outlives mounts
const KEEP = 4;
const SIDE = 112; // CSS px of the picture's longer side

const stKey = (key) => ".st-key-" + key.trim().replace(/[^a-zA-Z0-9_-]/g, "-");

function indexOf(point) {
  const cd = point && point.customdata;
  const i = Array.isArray(cd) ? cd[0] : cd;
  return Number.isInteger(Number(i)) && i !== null && i !== "" ? Number(i) : null;
}

class Hover {
  constructor() {
    this.h = null;
    this.box = null;
    this.gd = null;
    this.onMove = (e) => this.attach(e);
    document.addEventListener("pointermove", this.onMove, { capture: true, passive: true });
  }

  update(h) {
    this.h = h;
  }

  attach(e) {
    // the chart may be drawn again (a new element): listen on the one under the pointer
    if (!this.h) return;
    const holder = e.target.closest && e.target.closest(stKey(this.h.chart));
    const gd = holder && holder.querySelector(".js-plotly-plot");
    if (!gd || gd === this.gd || !gd.on) return;
    this.gd = gd;
    gd.on("plotly_hover", (ev) => this.show(gd, ev));
    gd.on("plotly_unhover", () => this.hide());
  }

  show(gd, ev) {
    const atlas = this.h && ATLASES.get(this.h.key);
    const point = ev && ev.points && ev.points.find((p) => indexOf(p) !== null);
    const i = indexOf(point);
    if (!atlas || i === null || i < 0 || i >= atlas.h.n) return this.hide();
    const { w, h, cols } = atlas.h;
    const scale = Math.max(1, Math.floor(SIDE / Math.max(w, h)));
    const holder = gd.querySelector(".svg-container") ?? gd;
    if (!this.box || this.box.parentNode !== holder) {
      this.box?.remove();
      this.box = document.createElement("div");
      this.box.className = "latent-example-hover";
      Object.assign(this.box.style, { position: "absolute", pointerEvents: "none", zIndex: 6, background: "#fff",
        border: "1px solid #888", borderRadius: "4px", padding: "3px", font: "12px sans-serif", color: "#111",
        textAlign: "center", boxShadow: "0 1px 4px rgba(0,0,0,.3)" });
      this.canvas = document.createElement("canvas");
      this.canvas.setAttribute("role", "img");
      this.canvas.style.display = "block";
      this.caption = document.createElement("div");
      this.box.append(this.canvas, this.caption);
      holder.appendChild(this.box);
    }
    this.canvas.width = w * scale;
    this.canvas.height = h * scale;
    const ctx = this.canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(atlas.bitmap, (i % cols) * w, Math.floor(i / cols) * h, w, h, 0, 0, w * scale, h * scale);
    const name = atlas.h.names[atlas.h.labels[i]];
    this.caption.textContent = `#${i}` + (name !== undefined && atlas.h.names.length > 1 ? ` · ${name}` : "");
    this.canvas.setAttribute("aria-label", `example ${i}` + (name !== undefined ? `, label ${name}` : ""));
    this.box.dataset.index = String(i);
    // beside the pointer, away from Plotly's own label (which sits beside the point), inside the chart
    const r = holder.getBoundingClientRect(), px = ev.event ? ev.event.clientX - r.left : r.width / 2;
    const py = ev.event ? ev.event.clientY - r.top : r.height / 2;
    const bw = w * scale + 8, bh = h * scale + 24;
    const left = px + 18 + bw > r.width ? px - 18 - bw : px + 18;
    this.box.style.left = Math.max(0, left) + "px";
    this.box.style.top = Math.max(0, Math.min(r.height - bh, py - bh - 12)) + "px";
    this.box.style.display = "block";
  }

  hide() {
    if (this.box) this.box.style.display = "none";
  }

  destroy() {
    document.removeEventListener("pointermove", this.onMove, { capture: true });
    this.box?.remove();
  }
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const { header, payload } = unframe(data);
  const root = parentElement;
  let view = root.__exampleHover;
  if (!view) view = root.__exampleHover = new Hover();
  view.update(header);
  if (payload.length) {
    createImageBitmap(new Blob([payload.slice()], { type: "image/png" })).then((bitmap) => {
      ATLASES.delete(header.key);
      ATLASES.set(header.key, { bitmap, h: header });
      while (ATLASES.size > KEEP) ATLASES.delete(ATLASES.keys().next().value);
    });
  } else if (!ATLASES.has(header.key)) {
    setTriggerValue("missing", header.key); // the page lost it (reloaded): the server sends it again
  }
  const gen = (root.__exampleHoverGen = (root.__exampleHoverGen ?? 0) + 1);
  return () => {
    if (root.__exampleHoverGen === gen) { view.destroy(); root.__exampleHover = null; }
  };
}
