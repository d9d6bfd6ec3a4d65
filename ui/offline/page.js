// The offline page: one view of the app as a single HTML file that needs nothing else (ui/offline builds
// it). This file is inlined after ../decoder/decoder.js, the app's own in-page decoder read from disk
// when the page is built, in one module: it uses that file's store, decode, drawImage, el and View, so
// the page decodes exactly as the app does. Here: the map (a canvas: points, axes, pointer, touch and
// keyboard), and the three views (map, manifold, interpolate). A later file may add a kind to VIEW_KINDS
// before start() runs (the builder appends the call last).
//
// Outside checks: the map is the element whose aria-label is "latent map"; the decoded picture is
// decoder.js's canvas, aria-label "decoded from z = ...", data-z the code it shows.

const VIEW_KINDS = {}; // kind -> (section, view, page data) => void
const MAX16 = 65535;

function b64bytes(text) {
  const bin = atob(text), out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function dequantise(q) {
  // {data: base64 uint16 LE, lo, hi (per column)} -> rows of numbers (N, columns)
  const bytes = b64bytes(q.data), u = new Uint16Array(bytes.buffer, 0, bytes.length / 2), k = q.lo.length;
  const rows = [];
  for (let i = 0; i < u.length / k; i++) {
    const r = new Array(k);
    for (let d = 0; d < k; d++) r[d] = q.lo[d] + (u[i * k + d] / MAX16) * (q.hi[d] - q.lo[d]);
    rows.push(r);
  }
  return rows;
}

function labelsOf(m) {
  if (!m.labels) return null;
  const b = b64bytes(m.labels.data);
  return m.labels.bytes === 2 ? new Uint16Array(b.buffer, 0, b.length / 2) : b;
}

// --- shapes: one per class after its colour, as the app's map (ui.plots.SYMBOLS) ---------------

function shape(ctx, kind, x, y, r) {
  ctx.beginPath();
  const poly = (pts) => { pts.forEach(([a, b], i) => (i ? ctx.lineTo(x + a * r, y + b * r) : ctx.moveTo(x + a * r, y + b * r))); ctx.closePath(); };
  switch (kind % 7) {
    case 1: ctx.rect(x - r * 0.85, y - r * 0.85, 1.7 * r, 1.7 * r); break;
    case 2: poly([[0, -1.2], [1.2, 0], [0, 1.2], [-1.2, 0]]); break;
    case 3: poly([[0, -1.15], [1.1, 0.85], [-1.1, 0.85]]); break;
    case 4: poly([[-1, -0.6], [-0.6, -1], [0, -0.4], [0.6, -1], [1, -0.6], [0.4, 0], [1, 0.6], [0.6, 1], [0, 0.4], [-0.6, 1], [-1, 0.6], [-0.4, 0]]); break;
    case 5: poly([[-0.35, -1], [0.35, -1], [0.35, -0.35], [1, -0.35], [1, 0.35], [0.35, 0.35], [0.35, 1], [-0.35, 1], [-0.35, 0.35], [-1, 0.35], [-1, -0.35], [-0.35, -0.35]]); break;
    case 6: poly([[0, 1.15], [1.1, -0.85], [-1.1, -0.85]]); break;
    default: ctx.arc(x, y, r, 0, 2 * Math.PI);
  }
  ctx.fill();
}

const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function viridis(u) {
  const t = Math.min(Math.max(u, 0), 1) * (VIRIDIS.length - 1), i = Math.min(Math.floor(t), VIRIDIS.length - 2), f = t - i;
  const c = VIRIDIS[i].map((a, k) => Math.round(a + f * (VIRIDIS[i + 1][k] - a)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function ticks(lo, hi, n = 5) {
  const step0 = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(step0)), err = step0 / mag;
  const step = mag * (err >= 5 ? 10 : err >= 2 ? 5 : err >= 1 ? 2 : 1);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.abs(v) < 1e-12 ? 0 : v);
  return out;
}

// --- the map ------------------------------------------------------------------------------------

class LatentMap {
  // m: {x_name, y_name, points: {data, lo, hi}, labels, classes, colors, values?, range: [[x0, x1], [y0, y1]],
  //     prior, rings, marks, path, crosses}; onPoint(xy in data units, how) when the pointer or a key moves
  constructor(box, m, onPoint) {
    this.m = m;
    this.onPoint = onPoint;
    this.box = box;
    Object.assign(box, { tabIndex: 0 });
    box.setAttribute("role", "application");
    box.setAttribute("aria-label", "latent map");
    box.setAttribute("aria-roledescription", "map: move the pointer, touch it or press the arrow keys to decode");
    this.base = el("canvas", { class: "base", "aria-hidden": "true" }, box);
    this.top = el("canvas", { class: "top", "aria-hidden": "true" }, box);
    this.xy = dequantise(m.points);
    this.labels = labelsOf(m);
    this.values = m.values ? b64bytes(m.values.data) : null;
    this.under = []; // (ctx, map) => void, drawn under the points (the manifold's tiles)
    this.at = null; // the ring's position, data units
    const move = (e) => this.pointer(e);
    box.addEventListener("pointermove", move, { passive: true });
    box.addEventListener("pointerdown", (e) => { box.focus({ preventScroll: true }); this.pointer(e); });
    box.addEventListener("keydown", (e) => this.key(e));
    new ResizeObserver(() => this.resize()).observe(box);
  }

  resize() {
    const r = this.box.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    if (r.width < 10 || r.height < 10) return;
    for (const c of [this.base, this.top]) {
      c.width = Math.round(r.width * dpr);
      c.height = Math.round(r.height * dpr);
    }
    this.w = r.width; this.h = r.height; this.dpr = dpr;
    // the plot area: room for the tick labels; equal units on both axes, as the app's map
    const L = 46, B = 36, T = 8, R = 10, pw = r.width - L - R, ph = r.height - T - B;
    let [[x0, x1], [y0, y1]] = this.m.range;
    const scale = Math.min(pw / (x1 - x0), ph / (y1 - y0));
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    x0 = cx - pw / scale / 2; x1 = cx + pw / scale / 2; y0 = cy - ph / scale / 2; y1 = cy + ph / scale / 2;
    this.area = { L, T, pw, ph, x0, x1, y0, y1, scale };
    this.draw();
    this.ring(this.at);
  }

  X(x) { return this.area.L + (x - this.area.x0) * this.area.scale; }
  Y(y) { return this.area.T + (this.area.y1 - y) * this.area.scale; }
  data(px, py) { return [this.area.x0 + (px - this.area.L) / this.area.scale, this.area.y1 - (py - this.area.T) / this.area.scale]; }

  ctx(c) {
    const ctx = c.getContext("2d");
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, this.w, this.h);
    return ctx;
  }

  draw() {
    const m = this.m, ctx = this.ctx(this.base), A = this.area;
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, this.w, this.h);
    ctx.save();
    ctx.beginPath(); ctx.rect(A.L, A.T, A.pw, A.ph); ctx.clip();
    this.under.forEach((f) => f(ctx, this));
    if (m.prior) {
      ctx.strokeStyle = "rgba(80,80,80,0.5)"; ctx.setLineDash([2, 3]);
      for (const r of [1, 2, 3]) { ctx.beginPath(); ctx.arc(this.X(0), this.Y(0), r * A.scale, 0, 2 * Math.PI); ctx.stroke(); }
      ctx.setLineDash([]);
    }
    // a dense map's markers shrink, as the app's (ui.plots.latent_map)
    const dense = Math.min(1, (2000 / Math.max(this.xy.length, 1)) ** 0.25), r = 2.6 * dense * (m.size ?? 1);
    ctx.globalAlpha = (m.opacity ?? 0.75) * (0.6 + 0.4 * dense);
    this.xy.forEach(([x, y], i) => {
      const k = this.labels ? this.labels[i] : 0;
      ctx.fillStyle = this.values ? viridis(this.values[i] / 255) : m.colors[k % m.colors.length];
      shape(ctx, this.values ? 0 : k, this.X(x), this.Y(y), r);
    });
    ctx.globalAlpha = 1;
    ctx.strokeStyle = "#222"; ctx.fillStyle = "#222";
    if (m.crosses) for (const [x, y] of m.crosses) { ctx.globalAlpha = 0.5; shape(ctx, 5, this.X(x), this.Y(y), 2.5); ctx.globalAlpha = 1; }
    if (m.path) {
      ctx.lineWidth = 3; ctx.beginPath();
      m.path.forEach(([x, y], i) => (i ? ctx.lineTo(this.X(x), this.Y(y)) : ctx.moveTo(this.X(x), this.Y(y))));
      ctx.stroke(); ctx.lineWidth = 1;
    }
    for (const [x, y] of m.rings ?? []) { ctx.lineWidth = 2; ctx.beginPath(); ctx.arc(this.X(x), this.Y(y), 7, 0, 2 * Math.PI); ctx.stroke(); }
    ctx.font = "bold 15px system-ui, sans-serif"; ctx.textAlign = "center";
    for (const mark of m.marks ?? []) {
      const [x, y] = mark.xy;
      ctx.lineWidth = 2; ctx.beginPath(); ctx.arc(this.X(x), this.Y(y), 7, 0, 2 * Math.PI); ctx.stroke();
      ctx.fillText(mark.text, this.X(x), this.Y(y) - 11);
    }
    ctx.restore();
    this.axes(ctx);
  }

  axes(ctx) {
    const A = this.area;
    ctx.strokeStyle = "#999"; ctx.lineWidth = 1; ctx.strokeRect(A.L, A.T, A.pw, A.ph);
    ctx.fillStyle = "#333"; ctx.font = "12px system-ui, sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (const v of ticks(A.x0, A.x1)) ctx.fillText(String(+v.toFixed(2)), this.X(v), A.T + A.ph + 3);
    ctx.fillText(this.m.x_name, A.L + A.pw / 2, A.T + A.ph + 19);
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (const v of ticks(A.y0, A.y1)) ctx.fillText(String(+v.toFixed(2)), A.L - 4, this.Y(v));
    ctx.save(); ctx.translate(11, A.T + A.ph / 2); ctx.rotate(-Math.PI / 2); ctx.textAlign = "center";
    ctx.fillText(this.m.y_name, 0, 0); ctx.restore();
  }

  ring(xy) {
    // the decoded point: a black ring with a white halo, over the points
    this.at = xy;
    if (!this.area) return;
    const ctx = this.ctx(this.top);
    if (!xy) return;
    const x = this.X(xy[0]), y = this.Y(xy[1]);
    if (x < this.area.L || y < this.area.T || x > this.area.L + this.area.pw || y > this.area.T + this.area.ph) return;
    ctx.lineWidth = 5; ctx.strokeStyle = "#fff"; ctx.beginPath(); ctx.arc(x, y, 8, 0, 2 * Math.PI); ctx.stroke();
    ctx.lineWidth = 2; ctx.strokeStyle = "#111"; ctx.stroke();
  }

  pointer(e) {
    if (!this.area) return;
    const r = this.box.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top, A = this.area;
    if (px < A.L || py < A.T || px > A.L + A.pw || py > A.T + A.ph) return;
    this.onPoint(this.data(px, py), "pointer");
  }

  key(e) {
    const dir = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[e.key];
    if (!dir || !this.area) return;
    e.preventDefault();
    const A = this.area, step = e.shiftKey ? 0.1 : 0.02, at = this.at ?? [(A.x0 + A.x1) / 2, (A.y0 + A.y1) / 2];
    this.onPoint([at[0] + dir[0] * step * (A.x1 - A.x0), at[1] + dir[1] * step * (A.y1 - A.y0)], "key", dir);
  }

  nearest(xy) {
    // the index of the point nearest to xy (data units)
    let best = -1, bd = Infinity;
    this.xy.forEach(([x, y], i) => { const d = (x - xy[0]) ** 2 + (y - xy[1]) ** 2; if (d < bd) { bd = d; best = i; } });
    return best;
  }

  legend(parent) {
    const m = this.m;
    if (m.values) {
      el("div", { class: "legend", text: `colour: ${m.values.name}, from ${(+m.values.lo.toFixed(2))} (dark) to ${(+m.values.hi.toFixed(2))} (yellow)` }, parent);
      return;
    }
    if (!m.classes || m.classes.length < 2) return;
    const box = el("div", { class: "legend", role: "list", "aria-label": "labels" }, parent);
    m.classes.forEach((name, k) => {
      const item = el("span", { class: "item", role: "listitem" }, box);
      const c = el("canvas", { width: "14", height: "14", "aria-hidden": "true" }, item);
      const ctx = c.getContext("2d");
      ctx.fillStyle = m.colors[k % m.colors.length];
      shape(ctx, k, 7, 7, 5);
      item.append(" " + name);
    });
  }
}

// --- the decoded picture: decoder.js's View, driven by this page's map and slider ---------------

class PageView extends View {
  constructor(root, map) {
    super(root, () => {}); // the page has every model it needs: nothing to ask for
    this.map = map;
    this.slider = null;
    this.nearestZ = null;
  }

  setup() {} // the page's own map and slider call render(); no Streamlit chart to find

  code() {
    return this.h.nearest && this.nearestZ ? this.nearestZ : super.code();
  }

  sliderValue(key, fallback) {
    const v = this.slider ? parseFloat(this.slider.value) : NaN;
    return Number.isFinite(v) ? v : fallback;
  }

  spans() {
    const A = this.map.area;
    return A ? [A.x1 - A.x0, A.y1 - A.y0] : [1, 1];
  }

  mark() {
    const h = this.h;
    if (h.mode === "path") {
      const t = this.playing ? this.playing.t : this.sliderValue(h.slider, h.t);
      this.map.ring(pathAt(h.path_xy, t));
    } else if (h.nearest) {
      if (this.nearestAt) this.map.ring(this.nearestAt);
    } else if (this.xy) {
      this.map.ring(this.xy);
    }
  }
}

function pathAt(P, t) {
  // a path sampled at evenly spaced t, linear in between (as View.pathZ)
  const n = P.length - 1, u = Math.min(Math.max(t, 0), 1) * n, i = Math.min(Math.floor(u), n - 1), f = u - i;
  return P[i].map((a, d) => a + f * (P[i + 1][d] - a));
}

function layout(section, view) {
  // a map and, beside it (below it on a narrow screen), the decoded picture and its words
  const mapBox = el("div", { class: "map" }, section);
  const side = el("div", { class: "side" }, section);
  if (view.explain) el("p", { class: "explain", text: view.explain }, side);
  return { mapBox, side };
}

function mount(side, map, view, data, before = () => {}) {
  const pv = new PageView(side, map);
  before(pv);
  pv.update({ ...view.decoder, model: data.model.key, latent_dim: data.model.spec.latent_dim });
  return pv;
}

VIEW_KINDS.map = (section, view, data) => {
  const { mapBox, side } = layout(section, view);
  const near = view.decoder.nearest; // PCA or t-SNE: the map's axes are not z; decode the nearest example's μ
  if (near) near.mu = dequantise(near);
  let pv = null;
  const pick = (i) => {
    pv.nearestZ = near.mu[i];
    pv.nearestAt = map.xy[i];
    if (map.labels && near.own_label) pv.label = map.labels[i];
  };
  const map = new LatentMap(mapBox, view.map, (xy, how) => {
    if (!pv) return;
    if (near) {
      pick(map.nearest(xy));
      pv.render();
      if (how === "key") map.at = xy; // the keys walk the map; the ring sits on the nearest example
    } else {
      pv.xy = xy;
      pv.render();
    }
  });
  map.legend(side);
  pv = mount(side, map, view, data, (v) => { pv = v; if (near) pick(near.start ?? 0); });
  return { map, pv, side };
};

VIEW_KINDS.manifold = (section, view, data) => {
  const { map, side } = VIEW_KINDS.map(section, view, data);
  const g = view.grid, m = MODELS.get(data.model.key), spec = m.spec;
  if (spec.shape.length !== 3) return; // 2-D points: the crosses on the map show the grid's codes
  const [, h, w] = spec.shape, rows = g.rows.length, cols = g.cols.length;
  const sheet = el("canvas", { class: "grid", role: "img" }, side);
  sheet.width = cols * w; sheet.height = rows * h;
  sheet.setAttribute("aria-label", `decoded grid, ${rows} × ${cols}: ${g.caption}`);
  const cell = document.createElement("canvas"), sctx = sheet.getContext("2d");
  g.rows.forEach((row, r) => g.cols.forEach((x, c) => {
    const z = g.base.slice();
    z[g.dims[0]] = x;
    if (row.y !== null) z[g.dims[1]] = row.y;
    drawImage(cell, spec, decode(m, z, row.label ?? g.label));
    sctx.drawImage(cell, c * w, r * h);
  }));
  if (g.tiles) {
    // the grid laid over the map, under the points, as on the app's Manifold page (opacity 0.55)
    const [x0, x1, y0, y1] = g.tiles;
    map.under.push((ctx, mp) => {
      ctx.globalAlpha = 0.55; ctx.imageSmoothingEnabled = false;
      ctx.drawImage(sheet, mp.X(x0), mp.Y(y1), mp.X(x1) - mp.X(x0), mp.Y(y0) - mp.Y(y1));
      ctx.globalAlpha = 1;
    });
    map.resize();
  }
};

VIEW_KINDS.interpolate = (section, view, data) => {
  const { mapBox, side } = layout(section, view);
  let pv = null;
  const h = view.decoder;
  const map = new LatentMap(mapBox, view.map, (xy, how, dir) => {
    if (!pv) return;
    pv.stopPlay();
    const P = h.path_xy;
    let t;
    if (how === "key") t = Math.min(1, Math.max(0, pv.sliderValue(h.slider, h.t) + 0.01 * (dir[0] || dir[1])));
    else {
      let best = 0, bd = Infinity;
      P.forEach(([x, y], i) => { const d = (x - xy[0]) ** 2 + (y - xy[1]) ** 2; if (d < bd) { bd = d; best = i; } });
      t = best / (P.length - 1);
    }
    slider.value = String(t);
    pv.render();
  });
  map.legend(side);
  const row = el("label", { class: "t" }, side);
  row.append("t ");
  const slider = el("input", { type: "range", min: "0", max: "1", step: "0.01", "aria-label": "t: 0 = A, 1 = B" }, row);
  slider.value = String(h.t);
  pv = mount(side, map, view, data);
  pv.slider = slider;
  slider.addEventListener("input", () => { pv.stopPlay(); pv.render(); });
  pv.render();
  const m = MODELS.get(data.model.key);
  if (m.spec.shape.length === 3 && view.strip) {
    // the frames from A to B, decoded here
    const [, hh, w] = m.spec.shape, n = view.strip.z.length;
    const sheet = el("canvas", { class: "grid strip", role: "img", "aria-label": `decoded path, ${n} frames from A to B` }, side);
    sheet.width = n * w; sheet.height = hh;
    const cell = document.createElement("canvas"), sctx = sheet.getContext("2d");
    view.strip.z.forEach((z, i) => { drawImage(cell, m.spec, decode(m, z, h.label)); sctx.drawImage(cell, i * w, 0); });
  }
};

// --- the page -----------------------------------------------------------------------------------

function card(parent, c, link) {
  const box = el("details", { class: "card" }, parent);
  el("summary", { text: "About this model" }, box);
  const dl = el("dl", {}, box);
  const row = (k, v) => { if (v === null || v === undefined || v === "") return; el("dt", { text: k }, dl); el("dd", { text: String(v) }, dl); };
  row("model", c.model_label ? `${c.model_label} (${c.model})` : c.model);
  row("dataset", c.dataset);
  row("β", c.beta);
  row("latent_dim", c.latent_dim);
  row("architecture", c.architecture);
  row("trained", c.epochs ? `${c.epochs} epochs, ${c.steps} steps` : "");
  const v = c.validation ?? {};
  const terms = Object.keys(v).filter((k) => typeof v[k] === "number").map((k) => `${k.replace("val_", "")} ${v[k].toFixed(2)}`);
  row("validation, nats per example", terms.join(" · "));
  if (c.command) row("train it again", c.command);
  if (link && /^https?:\/\//.test(link)) {
    const a = el("a", { class: "back", href: link, target: "_blank", rel: "noopener noreferrer", text: "Open this view in Latent Explorer" }, parent);
    a.title = link;
  }
}

function start() {
  const data = JSON.parse(document.getElementById("latent-explorer-data").textContent);
  store(data.model.key, data.model.spec, b64bytes(data.model.weights));
  document.title = data.title;
  document.getElementById("title").textContent = data.title;
  const caption = document.getElementById("caption");
  caption.textContent = data.caption ?? "";
  caption.hidden = !data.caption;
  const views = document.getElementById("views");
  for (const view of data.views) {
    const section = el("section", { class: "view " + view.kind }, views);
    const make = VIEW_KINDS[view.kind];
    if (make) make(section, view, data);
    else el("p", { text: `This page has a view of kind "${view.kind}", which this page cannot show.` }, section);
  }
  card(document.getElementById("about"), data.card ?? {}, data.link);
}
