// Decoding in the page: the active model's decoder, run in plain JavaScript typed arrays, so moving
// the pointer over the latent map (or dragging a slider) redraws the decoding without asking the
// server. The layer spec and the weight layout are written by vae_core/webdecoder.py (its module
// docstring describes them); vae_core.webdecoder.reference_decode is this computation in numpy.
//
// A message (component data) is bytes: uint32 LE header length, JSON header, zero pad to 4 bytes,
// then the weights, sent once per model; later messages carry the header alone.

// model key -> {spec, w: Float32Array, scratch}; on window so it outlives this component's mounts
const MODELS = (window.__latentExplorerModels ??= new Map());
const KEEP = 16; // models kept in the page (a drawing pad's decoder and encoder count as two)
const EVENT = "latent-decoder-model"; // on window when a model's weights arrive

function half(h) {
  // IEEE 754 binary16 -> number
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function store(key, spec, payload) {
  const copy = payload.slice(); // own, 4-byte aligned buffer
  let w;
  if (spec.dtype === "float16") {
    const h = new Uint16Array(copy.buffer, 0, spec.size);
    w = new Float32Array(spec.size);
    for (let i = 0; i < spec.size; i++) w[i] = half(h[i]);
  } else {
    w = new Float32Array(copy.buffer, 0, spec.size);
  }
  MODELS.delete(key);
  MODELS.set(key, { spec, w, scratch: null });
  while (MODELS.size > KEEP) MODELS.delete(MODELS.keys().next().value);
  window.dispatchEvent(new CustomEvent(EVENT, { detail: key }));
}

// --- the decoder -------------------------------------------------------------------------------

function plan(model) {
  // one reusable output buffer per layer (ReLU and reshape work in place)
  const { spec } = model;
  let shape = [spec.latent_dim + spec.n_cond];
  const steps = [{ op: "input", shape, buf: new Float32Array(shape[0]) }];
  for (const L of spec.layers) {
    const inShape = shape;
    if (L.op === "linear") shape = [L.out];
    else if (L.op === "reshape") shape = L.shape.slice();
    else if (L.op === "convT") {
      const [, h, w] = inShape;
      shape = [L.out, (h - 1) * L.stride - 2 * L.pad + L.k, (w - 1) * L.stride - 2 * L.pad + L.k];
    }
    const size = shape.reduce((a, b) => a * b);
    steps.push({ ...L, inShape, shape, buf: L.op === "linear" || L.op === "convT" ? new Float32Array(size) : null });
  }
  return steps;
}

function linear(L, w, x, y) {
  // y = W x + b, W (out, in) row-major; skip the zeros a ReLU left in x
  const nIn = L.in, nOut = L.out, nz = [];
  for (let i = 0; i < nIn; i++) if (x[i] !== 0) nz.push(i);
  for (let o = 0; o < nOut; o++) {
    const row = L.weight + o * nIn;
    let s = 0;
    for (let j = 0; j < nz.length; j++) s += w[row + nz[j]] * x[nz[j]];
    y[o] = s + w[L.bias + o];
  }
}

function convT(L, w, x, y) {
  // transposed convolution: every input pixel scatters its kernel, weight (in, out, k, k)
  const [cin, h, wd] = L.inShape, [cout, H, W] = L.shape, k = L.k, s = L.stride, p = L.pad;
  for (let co = 0; co < cout; co++) y.fill(w[L.bias + co], co * H * W, (co + 1) * H * W);
  for (let ci = 0; ci < cin; ci++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < wd; j++) {
        const v = x[(ci * h + i) * wd + j];
        if (v === 0) continue;
        for (let co = 0; co < cout; co++) {
          const kbase = L.weight + (ci * cout + co) * k * k, obase = co * H * W;
          for (let ky = 0; ky < k; ky++) {
            const oy = i * s - p + ky;
            if (oy < 0 || oy >= H) continue;
            for (let kx = 0; kx < k; kx++) {
              const ox = j * s - p + kx;
              if (ox < 0 || ox >= W) continue;
              y[obase + oy * W + ox] += v * w[kbase + ky * k + kx];
            }
          }
        }
      }
}

function decode(model, z, label, raw = false) {
  // z (latent_dim numbers) [+ label] -> Float32Array, the mean of p(x|z) (raw: the logits), in (C, H, W) order
  const { spec, w } = model;
  const steps = (model.scratch ??= plan(model));
  let x = steps[0].buf;
  x.fill(0);
  for (let d = 0; d < spec.latent_dim; d++) x[d] = z[d];
  if (spec.n_cond) x[spec.latent_dim + (label ?? 0)] = 1;
  for (let i = 1; i < steps.length; i++) {
    const L = steps[i];
    if (L.op === "linear") { linear(L, w, x, L.buf); x = L.buf; }
    else if (L.op === "convT") { convT(L, w, x, L.buf); x = L.buf; }
    else if (L.op === "relu") { for (let j = 0; j < x.length; j++) if (x[j] < 0) x[j] = 0; }
  }
  const out = new Float32Array(x);
  if (spec.output === "sigmoid" && !raw) for (let j = 0; j < out.length; j++) out[j] = 1 / (1 + Math.exp(-out[j]));
  return out;
}

// For tests and benchmarks: decode with a stored model, no drawing.
window.__latentExplorerDecode = (key, z, label) => {
  const m = MODELS.get(key);
  return m ? Array.from(decode(m, z, label)) : null;
};

// --- drawing -----------------------------------------------------------------------------------

const fmt = (v) => (Math.abs(v) < 0.005 ? 0 : v).toFixed(2);
const vec = (z) => "(" + Array.from(z, fmt).join(", ") + ")";

function isImage(spec) {
  return spec.shape.length === 3;
}

function drawImage(canvas, spec, out) {
  const [c, h, w] = spec.shape;
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h), px = img.data, n = h * w;
  const u8 = (v) => Math.round(Math.min(1, Math.max(0, v)) * 255);
  for (let i = 0; i < n; i++) {
    const r = u8(out[i]);
    px[4 * i] = r;
    px[4 * i + 1] = c === 3 ? u8(out[n + i]) : r;
    px[4 * i + 2] = c === 3 ? u8(out[2 * n + i]) : r;
    px[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function drawPoint(canvas, out, h) {
  // 2-D data: the decoded point x̂ among (some of) the data, in the data's box; outside it, on its edge
  const size = 160, ctx = canvas.getContext("2d");
  if (canvas.width !== size) { canvas.width = size; canvas.height = size; }
  const [x0, x1, y0, y1] = h.bounds ?? [-3, 3, -3, 3];
  const X = (v) => 8 + ((v - x0) / (x1 - x0)) * (size - 16), Y = (v) => size - 8 - ((v - y0) / (y1 - y0)) * (size - 16);
  ctx.fillStyle = "#fafafa"; ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = "#c8c8c8";
  for (const [a, b] of h.cloud ?? []) ctx.fillRect(X(a) - 1, Y(b) - 1, 2, 2);
  const px = X(out[0]), py = Y(out[1] ?? 0), inside = px >= 0 && px <= size && py >= 0 && py <= size;
  const cx = Math.min(size - 6, Math.max(6, px)), cy = Math.min(size - 6, Math.max(6, py));
  ctx.beginPath(); ctx.arc(cx, cy, 5, 0, 2 * Math.PI);
  if (inside) { ctx.fillStyle = "#d62728"; ctx.fill(); } else { ctx.strokeStyle = "#d62728"; ctx.lineWidth = 2; ctx.stroke(); ctx.lineWidth = 1; }
}

// --- one mounted view --------------------------------------------------------------------------

const stKey = (key) => ".st-key-" + key.trim().replace(/[^a-zA-Z0-9_-]/g, "-");

function el(tag, attrs = {}, parent = null) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) k === "text" ? (e.textContent = v) : e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

const REDUCED = "(prefers-reduced-motion: reduce)";
const TAP_PX = 8; // a touch that moves less than this is a tap

class View {
  constructor(root, ask, picked = () => {}) {
    this.root = root;
    this.ask = ask; // (model key) -> ask the server for weights it thinks we have
    this.picked = picked; // (example index) -> the server selects it (a tap, Enter, PageUp / PageDown)
    this.box = el("div", { class: "decoder" }, root);
    this.pad = null;
    this.picture = el("canvas", { class: "picture", role: "img", "aria-label": "decoded" }, this.box);
    const side = el("div", { class: "side" }, this.box);
    this.caption = el("div", { class: "caption" }, side);
    this.controls = el("div", { class: "controls" }, side);
    this.note = el("div", { class: "note" }, side);
    // what a screen reader is told of a selection made here (not of every move: the picture's name says that)
    this.status = el("div", { class: "sr-status", role: "status", "aria-live": "polite" }, side);
    this.h = null; // the current header
    this.xy = null; // map / pad: the two shown coordinates
    this.playing = null;
    this.off = []; // listeners to remove
    this.asked = new Set();
    this.listen(window, EVENT, (e) => { if (this.h && e.detail === this.h.model) this.render(); });
    this.canvas = this.picture;
    this.picture.addEventListener("decode-at", (e) => this.goto(e.detail.z, e.detail.label));
  }

  listen(target, type, fn, opts) {
    target.addEventListener(type, fn, opts);
    this.off.push(() => target.removeEventListener(type, fn, opts));
  }

  destroy() {
    this.off.forEach((f) => f());
    clearTimeout(this.retry);
    this.tries = Infinity; // no more looking for the map or the sliders
    this.stopPlay();
    if (this.marker) this.marker.remove();
    this.box.remove();
  }

  update(h) {
    // the point shown stays where it is for new data about the same map; a new model starts it afresh,
    // except on the pad, whose model is one run as it trains: a pointer held still there watches the
    // decoding of that code improve as new weights arrive
    const same = this.h && (this.h.model === h.model || h.mode === "pad") && this.h.mode === h.mode
      && JSON.stringify(this.h.dims) === JSON.stringify(h.dims);
    const first = !this.h;
    this.h = h;
    if (!same) this.xy = h.xy ? h.xy.slice() : null;
    if (first) this.setup();
    this.controlsFor(h);
    this.render();
  }

  setup() {
    const h = this.h;
    if (h.mode === "map") {
      this.listen(document, "pointermove", (e) => this.onMapMove(e), { passive: true });
      this.listen(document, "keydown", (e) => this.onKey(e));
      // touch and pen: a tap selects and decodes, a drag moves the decoded point; the chart's own pan and
      // zoom only behind the mode switch (captured before Plotly's handlers, which listen below)
      this.listen(document, "pointerdown", (e) => this.onMapDown(e), { capture: true });
      this.listen(document, "pointerup", (e) => this.onMapUp(e), { capture: true });
      this.listen(document, "pointercancel", () => this.endTouch(), { capture: true });
      for (const type of ["touchstart", "touchmove", "touchend"])
        this.listen(document, type, (e) => this.onMapTouch(e), { capture: true, passive: false });
      this.float = el("canvas", { class: "float", "aria-hidden": "true" }, this.box);
      // a rerun may draw the map's element anew, without its name, role and tab stop: give them again
      const again = new MutationObserver(() => {
        if (!this.labelling) this.labelling = requestAnimationFrame(() => { this.labelling = 0; if (this.h) this.findMap(); });
      });
      again.observe(document.body, { subtree: true, childList: true });
      this.off.push(() => { again.disconnect(); cancelAnimationFrame(this.labelling); });
      this.findMap();
    } else if (h.mode === "pad") {
      this.pad = el("canvas", { class: "pad", tabindex: "0", role: "application", "aria-label": "latent map" });
      this.box.insertBefore(this.pad, this.box.firstChild);
      this.listen(this.pad, "pointermove", (e) => this.onPadMove(e), { passive: true });
      this.listen(this.pad, "keydown", (e) => this.onKey(e));
    } else {
      // path / knobs: read the Streamlit sliders as they move; Streamlit sends their value on release
      this.observer = new MutationObserver(() => this.render());
      this.off.push(() => this.observer.disconnect());
      this.watchSliders();
    }
  }

  controlsFor(h) {
    // the bases for the other dims (a toggle), the label of a conditional model, the play button
    const c = this.controls;
    const key = JSON.stringify([h.mode, h.bases?.map((b) => b.name), h.classes, h.label]);
    if (c.dataset.key === key) return;
    c.dataset.key = key;
    c.textContent = "";
    if (h.bases && h.bases.length === 1 && h.latent_dim > 2) {
      el("div", { class: "row", text: "other dims held at " + h.bases[0].name }, c);
    } else if (h.bases && h.bases.length > 1 && h.latent_dim > 2) {
      const row = el("div", { class: "row", role: "radiogroup", "aria-label": "other dims held at" }, c);
      el("span", { text: "other dims at " }, row);
      h.bases.forEach((b, i) => {
        const label = el("label", {}, row);
        const r = el("input", { type: "radio", name: "base-" + h.model.slice(0, 8) + h.mode, value: String(i) }, label);
        r.checked = i === (this.base ?? 0);
        r.addEventListener("change", () => { this.base = i; this.render(); });
        label.append(" " + b.name);
      });
    }
    if (h.classes && h.choose_label) {
      const row = el("label", { class: "row" }, c);
      row.append("label ");
      const s = el("select", { "aria-label": "label to decode with" }, row);
      h.classes.forEach((name, i) => el("option", { value: String(i), text: name }, s));
      s.value = String(this.label ?? h.label ?? 0);
      s.addEventListener("change", () => { this.label = +s.value; this.render(); });
    }
    if (h.mode === "path") {
      const b = el("button", { type: "button", class: "play", "aria-pressed": "false", text: "▶ play" }, c);
      b.addEventListener("click", () => (this.playing ? this.stopPlay() : this.play()));
      this.playButton = b;
    }
    if (h.mode === "map") {
      const b = el("button", { type: "button", class: "panmode", "aria-pressed": String(!!this.panning),
                               text: "✋ pan / zoom the map by touch" }, c);
      b.addEventListener("click", () => {
        this.panning = !this.panning;
        b.setAttribute("aria-pressed", String(this.panning));
        // the switch sits below the map, off screen while the map is in view: turned on, it brings the
        // map back into view, to be panned
        if (this.panning) document.querySelector(stKey(this.h.chart))?.scrollIntoView({ block: "center" });
      });
    }
  }

  model() {
    return MODELS.get(this.h.model);
  }

  // the full latent code for the current position
  code() {
    const h = this.h;
    if (h.mode === "path") return this.pathZ(this.playing ? this.playing.t : this.sliderValue(h.slider, h.t));
    if (h.mode === "knobs") {
      const z = h.z.slice();
      h.sliders.forEach((key, d) => { if (key) z[d] = this.sliderValue(key, z[d]); }); // "": no knob for z[d]
      return z;
    }
    const base = h.bases ? h.bases[Math.min(this.base ?? 0, h.bases.length - 1)].z : new Array(h.latent_dim).fill(0);
    const z = base.slice();
    if (this.xy) { z[h.dims[0]] = this.xy[0]; z[h.dims[1]] = this.xy[1]; }
    return z;
  }

  pathZ(t) {
    // the path z(t), computed on the server at evenly spaced t, linear between neighbours
    const P = this.h.path, n = P.length - 1, u = Math.min(Math.max(t, 0), 1) * n, i = Math.min(Math.floor(u), n - 1), f = u - i;
    return P[i].map((a, d) => a + f * (P[i + 1][d] - a));
  }

  render() {
    const h = this.h, m = this.model();
    if (!m) {
      this.note.textContent = "loading the decoder…";
      if (!this.asked.has(h.model)) {
        this.asked.add(h.model);
        const key = h.model;
        setTimeout(() => { if (this.h && this.h.model === key && !MODELS.has(key)) this.ask(key); }, 1500);
      }
      return;
    }
    this.draw(this.code(), this.label ?? h.label, m);
  }

  draw(z, label, m = this.model()) {
    if (!m) return;
    const h = this.h, began = performance.now(), out = decode(m, z, label);
    if (isImage(m.spec)) drawImage(this.picture, m.spec, out);
    else drawPoint(this.picture, out, h);
    const t = h.mode === "path" ? ", t = " + this.tNow().toFixed(2) : "";
    let words = "decoded from z = " + vec(z) + t;
    if (m.spec.n_cond) words += ", label " + (h.classes ? h.classes[label ?? 0] : label);
    if (!isImage(m.spec)) words += " → x̂ = " + vec(out);
    const near = h.mode === "map" ? this.nearest()?.name
      : h.mode === "path" && h.near ? h.near[Math.round(Math.min(Math.max(this.tNow(), 0), 1) * (h.near.length - 1))] : null;
    if (near != null) words += ", nearest example a " + near;
    this.picture.setAttribute("aria-label", words);
    this.picture.dataset.z = JSON.stringify(Array.from(z));
    this.picture.dataset.model = h.model;
    this.picture.dataset.label = String(label ?? "");
    if (out.length <= 16) this.picture.dataset.out = JSON.stringify(Array.from(out));
    this.picture.dataset.cost = String(performance.now() - began); // decode + draw, ms
    this.picture.dataset.drawn = String(performance.now());
    if (this.touch) this.follow();
    this.caption.textContent = (h.title ?? "decoded") + t + (this.playing ? " (playing)" : "");
    this.note.textContent = h.note ?? "";
    el("div", { class: "z", text: "z = " + vec(z) }, this.note);
    if (!isImage(m.spec)) el("div", { class: "z", text: "x̂ = " + vec(out) }, this.note);
    this.mark();
  }

  tNow() {
    return this.playing ? this.playing.t : this.sliderValue(this.h.slider, this.h.t);
  }

  goto(z, label) {
    // programmatic: decode this code (tests, lesson links); map / pad take its two shown dims
    if (this.h.dims) this.xy = [z[this.h.dims[0]], z[this.h.dims[1]]];
    if (label !== undefined) this.label = label;
    this.draw(z, label ?? this.label ?? this.h.label);
  }

  // --- map mode: hover over the Plotly map drawn beside this component

  findMap() {
    const box = document.querySelector(stKey(this.h.chart));
    const gd = box && box.querySelector(".js-plotly-plot");
    if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis) {
      if ((this.tries = (this.tries ?? 0) + 1) < 120) this.retry = setTimeout(() => this.findMap(), 250);
      return null;
    }
    // its name: "latent map", then what the chart shows (ui.screen's text alternative)
    const name = "latent map" + (gd.layout?.meta?.alt ? ": " + gd.layout.meta.alt : "");
    if (box.getAttribute("aria-label") !== name) {
      box.setAttribute("aria-label", name);
      box.setAttribute("role", "application");
      box.setAttribute("tabindex", "0");
      box.setAttribute("aria-roledescription", "map: arrow keys move the decoded point, Enter selects the nearest "
        + "example, Page Down and Page Up step through its neighbours");
      box.style.touchAction = "none";
    }
    return gd;
  }

  onMapMove(e) {
    if (this.touch && e.pointerId === this.touch.id) {
      if (Math.hypot(e.clientX - this.touch.x, e.clientY - this.touch.y) > TAP_PX) this.touch.moved = true;
    } else if (e.pointerType !== "mouse" && e.pointerType !== "pen") return; // a finger decodes only while down
    const box = e.target.closest && e.target.closest(stKey(this.h.chart));
    if (!box && !this.touch) return;
    this.decodeAt(e);
  }

  decodeAt(e) {
    // the code under the pointer (page pixels -> the map's axes), decoded
    const gd = this.findMap();
    if (!gd) return false;
    const L = gd._fullLayout, xa = L.xaxis, ya = L.yaxis, r = gd.getBoundingClientRect();
    const px = e.clientX - r.left - xa._offset, py = e.clientY - r.top - ya._offset;
    if (px < 0 || py < 0 || px > xa._length || py > ya._length) return false;
    this.xy = [xa.range[0] + (px / xa._length) * (xa.range[1] - xa.range[0]),
               ya.range[1] - (py / ya._length) * (ya.range[1] - ya.range[0])];
    this.render();
    return true;
  }

  mapTarget(e) {
    // a touch or pen on the map's plot (not its tool bar), when the map is not in pan / zoom mode
    return !this.panning && e.target.closest?.(stKey(this.h.chart)) && !e.target.closest(".modebar");
  }

  onMapDown(e) {
    if (e.pointerType === "mouse" || !this.mapTarget(e)) return;
    e.preventDefault(); // no mouse events made from it: Plotly's drag never starts
    e.stopPropagation();
    this.touch = { id: e.pointerId, x: e.clientX, y: e.clientY, moved: false };
    if (!this.decodeAt(e)) this.touch = null;
  }

  onMapUp(e) {
    if (!this.touch || e.pointerId !== this.touch.id) return;
    e.stopPropagation();
    const tap = !this.touch.moved;
    this.endTouch();
    if (tap) this.select(this.nearest());
  }

  endTouch() {
    this.touch = null;
    if (this.float) this.float.style.display = "none";
  }

  onMapTouch(e) {
    // Plotly listens for touchstart on its drag layer: in decode mode the map's touches stop here
    if (!this.mapTarget(e)) return;
    e.stopPropagation();
    if (e.cancelable) e.preventDefault();
  }

  follow() {
    // while a finger (or pen) is down on the map, a copy of the decoded picture stays in view, above
    // the finger (below it near the top of the screen): the picture itself may be off screen
    const f = this.float, p = this.picture, size = 112;
    if (f.width !== p.width || f.height !== p.height) { f.width = p.width; f.height = p.height; }
    f.getContext("2d").drawImage(p, 0, 0);
    const top = this.touch.y > size + 40 ? 8 : window.innerHeight - size - 8;
    Object.assign(f.style, { display: "block", top: top + "px", left: Math.max(8, Math.min(window.innerWidth - size - 8, this.touch.x - size / 2)) + "px" });
  }

  points() {
    // the map's examples: (trace, its class name, x, y, index) from every trace whose customdata is an index
    const gd = this.findMap();
    if (!gd) return [];
    if (this.cache && this.cache.data === gd._fullData) return this.cache.points;
    const points = [];
    for (const t of gd._fullData) {
      if (!t.customdata || !t.x || t.visible !== true || t.mode !== "markers") continue;
      for (let i = 0; i < t.x.length; i++) {
        const c = t.customdata[i], index = Array.isArray(c) ? c[0] : c;
        if (Number.isInteger(+index)) points.push({ name: t.name, x: +t.x[i], y: +t.y[i], index: +index });
      }
    }
    this.cache = { data: gd._fullData, points };
    return points;
  }

  nearest(from = this.xy) {
    // the example nearest to a point of the map, in screen proportions (each axis scaled by its span)
    if (!from) return null;
    const [sx, sy] = this.spans();
    let best = null, bd = Infinity;
    for (const p of this.points()) {
      const d = ((p.x - from[0]) / sx) ** 2 + ((p.y - from[1]) / sy) ** 2;
      if (d < bd) { bd = d; best = p; }
    }
    return best;
  }

  neighbour(step) {
    // Page Down / Page Up: the next / previous nearest neighbour of the example selected last
    if (!this.anchor) return this.select(this.nearest());
    if (!this.ranked) {
      const [sx, sy] = this.spans(), a = this.anchor;
      const d = (p) => ((p.x - a.x) / sx) ** 2 + ((p.y - a.y) / sy) ** 2;
      this.ranked = this.points().map((p) => [d(p), p]).sort((u, v) => u[0] - v[0]).slice(0, 200).map((u) => u[1]);
      this.rank = 0;
    }
    this.rank = Math.min(Math.max(this.rank + step, 0), this.ranked.length - 1);
    this.select(this.ranked[this.rank], false);
  }

  select(p, anchor = true) {
    // an example chosen on the map without the mouse: decoded at its point, and selected on the server
    if (!p) return;
    if (anchor) { this.anchor = p; this.ranked = null; }
    this.xy = [p.x, p.y];
    this.render();
    this.status.textContent = `selected example #${p.index}, a ${p.name}, at ${vec(this.xy)}`
      + (anchor ? "" : `, neighbour ${this.rank} of example #${this.anchor.index}`);
    this.picture.dataset.selected = String(p.index);
    this.picked({ index: p.index, at: Date.now() });
    if (document.activeElement?.matches?.(stKey(this.h.chart))) this.keepFocus();
  }

  keepFocus() {
    // the selection reruns the page, which may draw the map anew and drop the keyboard's focus: while
    // the focus is nowhere (the body) in the next 5 s, it goes back to the map
    // (on window: this view itself may be mounted anew by that rerun)
    clearInterval(window.__latentExplorerRefocus);
    const until = performance.now() + 5000, key = stKey(this.h.chart);
    const timer = (window.__latentExplorerRefocus = setInterval(() => {
      const a = document.activeElement;
      if (performance.now() > until || (a && a !== document.body && !a.matches?.(key))) return clearInterval(timer);
      const box = document.querySelector(key);
      if (box && (!a || a === document.body)) { box.tabIndex = 0; box.focus(); }
    }, 50));
  }

  onKey(e) {
    const inMap = this.h.mode === "pad" ? e.currentTarget === this.pad
      : document.activeElement && document.activeElement.matches && document.activeElement.matches(stKey(this.h.chart));
    if (!inMap) return;
    if (this.h.mode === "map" && (e.key === "Enter" || e.key === " " || e.key === "PageDown" || e.key === "PageUp")) {
      e.preventDefault();
      if (e.key === "PageDown" || e.key === "PageUp") this.neighbour(e.key === "PageDown" ? 1 : -1);
      else this.select(this.nearest());
      return;
    }
    const dir = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[e.key];
    if (!dir) return;
    e.preventDefault();
    const [sx, sy] = this.spans();
    const step = e.shiftKey ? 0.1 : 0.02;
    this.xy = this.xy ?? [0, 0];
    this.xy = [this.xy[0] + dir[0] * step * sx, this.xy[1] + dir[1] * step * sy];
    this.render();
  }

  spans() {
    if (this.h.mode === "pad") return [2 * this.h.span, 2 * this.h.span];
    const gd = this.findMap();
    if (!gd) return [1, 1];
    const { xaxis: xa, yaxis: ya } = gd._fullLayout;
    return [xa.range[1] - xa.range[0], ya.range[1] - ya.range[0]];
  }

  mark() {
    // a ring at the decoded point, over the map
    if (!this.xy) return;
    if (this.h.mode === "pad") return this.drawPad();
    if (this.h.mode !== "map") return;
    const gd = this.findMap();
    if (!gd) return;
    const holder = gd.querySelector(".svg-container") ?? gd;
    if (!this.marker || this.marker.parentNode !== holder) {
      this.marker?.remove();
      this.marker = el("div", { class: "latent-decoder-marker", "aria-hidden": "true" }, holder);
      Object.assign(this.marker.style, { position: "absolute", width: "14px", height: "14px", margin: "-9px 0 0 -9px",
        border: "2px solid #111", borderRadius: "50%", boxShadow: "0 0 0 2px #fff", pointerEvents: "none", zIndex: 5 });
    }
    const { xaxis: xa, yaxis: ya } = gd._fullLayout;
    const x = xa._offset + ((this.xy[0] - xa.range[0]) / (xa.range[1] - xa.range[0])) * xa._length;
    const y = ya._offset + ((ya.range[1] - this.xy[1]) / (ya.range[1] - ya.range[0])) * ya._length;
    const inside = x >= xa._offset && x <= xa._offset + xa._length && y >= ya._offset && y <= ya._offset + ya._length;
    this.marker.style.display = inside ? "block" : "none";
    this.marker.style.left = x + "px";
    this.marker.style.top = y + "px";
  }

  // --- pad mode: its own square map over [-span, span]^2 (used where there is no Plotly map)

  onPadMove(e) {
    const r = this.pad.getBoundingClientRect(), s = this.h.span;
    this.xy = [-s + ((e.clientX - r.left) / r.width) * 2 * s, s - ((e.clientY - r.top) / r.height) * 2 * s];
    this.render();
  }

  drawPad() {
    const c = this.pad, n = 200, s = this.h.span, ctx = c.getContext("2d");
    if (c.width !== n) { c.width = n; c.height = n; }
    const P = (v) => ((v + s) / (2 * s)) * n;
    ctx.fillStyle = "#fafafa"; ctx.fillRect(0, 0, n, n);
    ctx.strokeStyle = "#ccc";
    for (const r of [1, 2, 3]) { ctx.beginPath(); ctx.arc(n / 2, n / 2, (r / (2 * s)) * n, 0, 2 * Math.PI); ctx.stroke(); }
    ctx.beginPath(); ctx.moveTo(0, n / 2); ctx.lineTo(n, n / 2); ctx.moveTo(n / 2, 0); ctx.lineTo(n / 2, n); ctx.stroke();
    ctx.strokeStyle = "#111"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(P(this.xy[0]), n - P(this.xy[1]), 6, 0, 2 * Math.PI); ctx.stroke(); ctx.lineWidth = 1;
  }

  // --- path / knobs: Streamlit sliders, read live; the play button

  watchSliders() {
    const keys = (this.h.mode === "path" ? [this.h.slider] : this.h.sliders).filter(Boolean);
    const found = keys.map((k) => document.querySelector(stKey(k)));
    found.forEach((box) => box && this.observer.observe(box, { subtree: true, attributes: true, attributeFilter: ["aria-valuetext", "aria-valuenow", "value", "style"] }));
    if (found.some((b) => !b) && (this.tries = (this.tries ?? 0) + 1) < 120) this.retry = setTimeout(() => this.watchSliders(), 250);
  }

  sliderValue(key, fallback) {
    const box = document.querySelector(stKey(key));
    const input = box && box.querySelector('input[type="range"]');
    const v = input ? parseFloat(input.value) : NaN;
    return Number.isFinite(v) ? v : fallback;
  }

  play() {
    // t from A to B and back, 2 s each way, until stopped; the server hears nothing. Where the system asks
    // for reduced motion: five still frames from A to B, one a second, then it stops
    const start = performance.now(), t0 = this.sliderValue(this.h.slider, this.h.t);
    this.playing = { t: t0 };
    this.playButton.textContent = "■ stop";
    this.playButton.setAttribute("aria-pressed", "true");
    if (window.matchMedia?.(REDUCED).matches) {
      const frames = [0, 0.25, 0.5, 0.75, 1];
      const show = (i) => {
        if (!this.playing) return;
        if (i === frames.length) return this.stopPlay();
        this.playing.t = frames[i];
        this.render();
        this.playing.timer = setTimeout(() => show(i + 1), 1000);
      };
      return show(0);
    }
    const tick = (now) => {
      if (!this.playing) return;
      const u = ((now - start) / 2000 + t0) % 2;
      this.playing.t = u <= 1 ? u : 2 - u;
      this.render();
      this.playing.frame = requestAnimationFrame(tick);
    };
    this.playing.frame = requestAnimationFrame(tick);
  }

  stopPlay() {
    if (!this.playing) return;
    cancelAnimationFrame(this.playing.frame);
    clearTimeout(this.playing.timer);
    this.playing = null;
    if (this.playButton) { this.playButton.textContent = "▶ play"; this.playButton.setAttribute("aria-pressed", "false"); }
    this.render();
  }
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const { header, payload } = unframe(data);
  if (header.spec) store(header.model, header.spec, payload);
  if (header.encoder) store(header.encoder.key, header.encoder.spec, payload.subarray(header.encoder.offset)); // draw.js
  const root = parentElement;
  const gen = (root.__decoderGen = (root.__decoderGen ?? 0) + 1);
  let view = root.__decoderView;
  if (!view || view.h?.mode !== header.mode) {
    view?.destroy();
    const ask = (key) => setTriggerValue("missing", key);
    view = root.__decoderView = header.mode === "draw" ? new DrawView(root, ask, (d) => setTriggerValue("drawn", d))
      : new View(root, ask, (p) => setTriggerValue("picked", p));
  }
  view.update(header);
  // Streamlit calls this function again for new data without cleaning up; only the latest cleans up
  return () => {
    if (root.__decoderGen === gen) { view.destroy(); root.__decoderView = null; }
  };
}
