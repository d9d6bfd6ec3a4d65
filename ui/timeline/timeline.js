// Watch it learn: a run's timeline, scrubbed and played in the page. The snapshots of each run arrive
// once (vae_core/timeline/web.py writes them: a JSON spec and one buffer of arrays); after that the
// scrubber, play and every redraw happen here, and nothing is sent to the server per frame.
//
// A message (component data) is bytes: uint32 LE header length, the JSON header, zero pad to a
// multiple of 4, then the buffers of the runs whose spec the header carries (spec.at: their offset).
//
// Contract for outside checks: the scrubber is the element whose aria-label starts with "timeline"; it
// takes the arrow, Page, Home and End keys and carries the step it shows in data-step. The maps are
// canvases (class "map") whose data-box ([x0, x1, y0, y1]) and data-plot ([left, top, width, height],
// canvas pixels) say where a code is drawn.

const TRACKS = (window.__latentExplorerTimelines ??= new Map()); // run key -> its arrays, across mounts
const KEEP = 6;
const RATE = 4; // snapshots a second at 1x
const SPEEDS = [0.5, 1, 2, 4];

function readMessage(bytes) {
  const n = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  const body = 4 + n + ((4 - ((4 + n) % 4)) % 4);
  return [JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n))), bytes.subarray(body)];
}

let HALF = null; // float16 bit pattern -> value, built once where Float16Array is missing
function halves(u16) {
  if (typeof Float16Array === "function") return Float32Array.from(new Float16Array(u16.buffer, u16.byteOffset, u16.length));
  if (!HALF) {
    HALF = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) {
      const e = (b >> 10) & 31, m = b & 1023, sign = b & 0x8000 ? -1 : 1;
      HALF[b] = sign * (e === 0 ? m / 1024 * 2 ** -14 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15));
    }
  }
  const out = new Float32Array(u16.length);
  for (let i = 0; i < u16.length; i++) out[i] = HALF[u16[i]];
  return out;
}

function keep(key, spec, payload) {
  const own = payload.slice(spec.at, spec.at + spec.size); // a copy: 4-byte aligned, the message may go
  const view = (name) => {
    const a = spec.arrays[name];
    if (!a) return null;
    const [offset, dtype, count] = a;
    if (dtype === "float16") return halves(new Uint16Array(own.buffer, offset, count));
    const Type = { uint8: Uint8Array, uint16: Uint16Array, float32: Float32Array }[dtype];
    return new Type(own.buffer, offset, count);
  };
  const t = { spec, xy: view("xy"), labels: view("labels"), recon: view("recon"), originals: view("originals"), kl: view("kl") };
  const groups = new Map(); // class -> its points' indices: one fillStyle per class when drawing
  t.labels.forEach((c, i) => (groups.get(c) ?? groups.set(c, []).get(c)).push(i));
  t.groups = [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([c, idx]) => [c, Int32Array.from(idx)]);
  TRACKS.delete(key);
  TRACKS.set(key, t);
  while (TRACKS.size > KEEP) TRACKS.delete(TRACKS.keys().next().value);
}

const el = (tag, attrs = {}, parent = null) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) k === "text" ? (e.textContent = v) : e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
};
const num = (v, d = 2) => (Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en") : (+v.toFixed(d)).toString());
const lastAtOrBefore = (list, v) => { let i = 0; while (i + 1 < list.length && list[i + 1] <= v + 1e-9) i++; return i; };
const reduced = () => window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

// --- one mounted timeline -----------------------------------------------------------------------

class View {
  constructor(root, ask, tellWidth) {
    this.root = root;
    this.ask = ask; // (run key) -> ask the server again for a run the page does not have
    this.tellWidth = tellWidth;
    this.box = el("div", { class: "timeline" }, root);
    this.pos = null; // the scrubber's position: a stop index; fractional while playing
    this.playing = null;
    this.zoom = "run";
    this.asked = new Set();
    this.resize = new ResizeObserver(() => this.layout());
    this.resize.observe(this.box);
  }

  destroy() {
    this.stop(false);
    this.resize.disconnect();
    clearTimeout(this.widthTimer);
    this.box.remove();
  }

  update(h) {
    const shape = JSON.stringify([h.tracks.map((t) => t.key), h.sync]);
    const fresh = shape !== this.shape;
    this.h = h;
    const missing = h.tracks.filter((t) => !TRACKS.has(t.key));
    if (missing.length) {
      this.box.textContent = "loading the timeline…";
      this.shape = null;
      for (const t of missing) {
        if (this.asked.has(t.key)) continue;
        this.asked.add(t.key);
        setTimeout(() => { if (!TRACKS.has(t.key)) this.ask(t.key); }, 1500);
      }
      return;
    }
    if (fresh) {
      if (this.playing) { cancelAnimationFrame(this.playing.frame); this.playing = null; }
      this.shape = shape;
      this.tracks = h.tracks.map((t) => ({ ...TRACKS.get(t.key), name: t.name }));
      this.stops = this.makeStops();
      this.build();
      // the same run in another view keeps its place; another run starts at its end (the model as it is)
      const run = h.tracks.map((t) => t.key.split(":")[0]).join(), same = run === this.run && this.pos != null;
      this.run = run;
      this.pos = same ? Math.min(Math.round(this.pos), this.stops.length - 1) : this.stops.length - 1;
    }
    this.layout();
  }

  makeStops() {
    // single run: its snapshots; several: every epoch any of them has a snapshot at (synced by epoch)
    if (this.h.sync !== "epoch") return this.tracks[0].spec.epochs.slice();
    const all = [...new Set(this.tracks.flatMap((t) => t.spec.epochs.map((e) => +e.toFixed(6))))];
    return all.sort((a, b) => a - b);
  }

  // which snapshots of track t to show at position p: i, the next one j and the blend f (0 unless playing)
  snapOf(t, p) {
    const k = Math.floor(p), f = p - k, S = this.stops;
    if (this.h.sync !== "epoch") return { i: k, j: Math.min(k + 1, S.length - 1), f };
    const e = S[k] + (k + 1 < S.length ? f * (S[k + 1] - S[k]) : 0), ep = t.spec.epochs;
    const i = lastAtOrBefore(ep, e), j = Math.min(i + 1, ep.length - 1);
    return { i, j, f: j > i && e > ep[i] ? Math.min(1, (e - ep[i]) / (ep[j] - ep[i])) : 0 };
  }

  // --- building the page parts

  build() {
    const h = this.h, box = this.box;
    box.textContent = "";
    box.style.setProperty("--font", (h.font ?? 13) + "px");
    const bar = el("div", { class: "bar" }, box);
    this.playButton = el("button", { type: "button", class: "play", "aria-pressed": "false", text: "▶ Play" }, bar);
    this.playButton.addEventListener("click", () => (this.playing ? this.stop(true) : this.play()));
    const speed = el("label", { class: "speed" }, bar);
    speed.append("speed ");
    this.speed = el("select", { "aria-label": "playback speed" }, speed);
    SPEEDS.forEach((s) => el("option", { value: String(s), text: s + "×" }, this.speed));
    this.speed.value = "1";
    this.zoomButton = el("button", { type: "button", class: "zoom", "aria-pressed": "false" }, bar);
    this.zoomButton.addEventListener("click", () => { this.zoom = this.zoom === "run" ? "step" : "run"; this.draw(); });
    this.readout = el("div", { class: "readout", "aria-hidden": "true" }, bar);

    const n = this.stops.length, one = this.tracks.length === 1;
    const s = (this.scrub = el("div", { class: "scrub", role: "slider", tabindex: "0", "aria-valuemin": "0",
      "aria-valuemax": String(n - 1), "aria-orientation": "horizontal",
      "aria-label": one ? `timeline of ${this.tracks[0].name}` : "timeline of the runs, synced by epoch" }, box));
    el("div", { class: "rail" }, s);
    this.fill = el("div", { class: "fill" }, s);
    const at = (k) => (n > 1 ? (100 * k) / (n - 1) : 0) + "%";
    this.ticks(s, at);
    this.thumb = el("div", { class: "thumb" }, s);
    this.listen(s);

    const panels = el("div", { class: "panels" + (one ? "" : " side-by-side") }, box);
    this.panels = this.tracks.map((t) => this.panel(t, one, panels));
    this.note = el("div", { class: "note" }, box);
    this.live = el("div", { class: "sr", "aria-live": "polite" }, box);
  }

  ticks(s, at) {
    // epoch labels under the scrubber (a few), β changes and the KL warm-up on it
    const lead = this.tracks[0].spec, n = this.stops.length;
    // labels: the start, epoch 1 (after the first epoch's dense snapshots), then a few evenly spaced
    const whole = this.stops.map((e, k) => [e, k]).filter(([e]) => Math.abs(e - Math.round(e)) < 1e-6 && e > 1);
    const every = Math.max(1, Math.ceil(whole.length / 4));
    const picked = [[0, 0], ...(this.stops.includes(1) ? [[1, this.stops.indexOf(1)]] : []),
      ...whole.filter((_, q) => (whole.length - 1 - q) % every === 0)];
    picked.forEach(([e, k], q) => el("div", { class: "tick" + (q === 0 ? " first" : q === picked.length - 1 ? " last" : ""),
      style: `left:${at(k)}`, text: e === 0 ? "start" : (q === picked.length - 1 ? "epoch " : "") + Math.round(e), "aria-hidden": "true" }, s));
    const stopOf = (step) => {
      // a step -> a fractional stop position (the scrubber is spaced by snapshot, not by step)
      const e = step / lead.steps_per_epoch, S = this.stops, k = lastAtOrBefore(S, e);
      return k + 1 < n && S[k + 1] > S[k] ? k + Math.min(1, (e - S[k]) / (S[k + 1] - S[k])) : k;
    };
    if (lead.warmup > 0) el("div", { class: "warmup", title: `KL warm-up: β ramps from 0 over ${lead.warmup} steps`,
      style: `left:0;width:${at(stopOf(lead.warmup))}` }, s);
    for (const [step, beta] of lead.marks) el("div", { class: "mark", title: `β changed to ${num(beta)} at step ${num(step)}`,
      style: `left:${at(stopOf(step))}`, "aria-hidden": "true" }, s);
  }

  panel(t, one, parent) {
    const p = { t, box: el("section", { class: "panel" + (one ? " one" : ""), "aria-label": t.name }, parent) };
    if (!one) el("div", { class: "name", text: t.name }, p.box);
    p.map = el("canvas", { class: "map", role: "img" }, p.box);
    const side = el("div", { class: "side" }, p.box);
    const sp = t.spec;
    el("div", { class: "label", text: sp.image ? "8 validation examples (top), reconstructed at this step (below)"
      : "8 validation points (grey) and their reconstructions at this step (red)" }, side);
    p.recon = el("canvas", { class: sp.image ? "recon pixels" : "recon points", role: "img" }, side);
    p.klLabel = el("div", { class: "label" }, side);
    p.kl = el("canvas", { class: "kl", role: "img" }, side);
    if (!sp.variational) { p.kl.hidden = true; p.klLabel.textContent = "a plain autoencoder: no KL term, no prior"; }
    el("div", { class: "label", text: "training curves (steps on a log scale), the cursor at this step" }, side);
    p.curves = el("canvas", { class: "curves", role: "img" }, side);
    return p;
  }

  listen(s) {
    s.addEventListener("keydown", (e) => {
      const n = this.stops.length, k = Math.round(this.pos), big = Math.max(1, Math.round(n / 10));
      const to = { ArrowLeft: k - 1, ArrowDown: k - 1, ArrowRight: k + 1, ArrowUp: k + 1, PageDown: k - big,
        PageUp: k + big, Home: 0, End: n - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      this.stop(false);
      this.go(Math.max(0, Math.min(n - 1, to)));
    });
    const at = (e) => {
      const r = s.getBoundingClientRect(), n = this.stops.length;
      return Math.round(Math.max(0, Math.min(1, (e.clientX - r.left) / r.width)) * (n - 1));
    };
    s.addEventListener("pointerdown", (e) => {
      this.stop(false);
      s.setPointerCapture(e.pointerId);
      s.focus();
      this.dragging = true;
      this.go(at(e));
    });
    s.addEventListener("pointermove", (e) => { if (this.dragging) this.go(at(e)); });
    const up = () => { if (this.dragging) { this.dragging = false; this.say(); } };
    s.addEventListener("pointerup", up);
    s.addEventListener("pointercancel", up);
  }

  go(k) {
    if (k === this.pos) return;
    this.pos = k;
    this.draw();
  }

  say(prefix = "") {
    this.live.textContent = prefix + this.scrub.getAttribute("aria-valuetext");
  }

  // --- play: through the stops at RATE x speed a second, gliding between snapshots unless the
  // reader asked for reduced motion (then one snapshot a second, no gliding); nothing is sent

  play() {
    const n = this.stops.length;
    if (n < 2) return;
    if (this.pos >= n - 1) this.pos = 0;
    this.playing = { last: performance.now(), frame: 0 };
    this.playButton.textContent = "⏸ Pause";
    this.playButton.setAttribute("aria-pressed", "true");
    const tick = (now) => {
      if (!this.playing) return;
      const calm = reduced(), rate = calm ? 1 : RATE * parseFloat(this.speed.value);
      // seconds since the last frame: a frame's time can precede the click's (not < 0), and a hidden
      // tab's pause is not a jump (not > 1)
      const dt = Math.max(0, Math.min(1, (now - this.playing.last) / 1000));
      this.playing.last = now;
      this.pos = Math.min(n - 1, this.pos + dt * rate);
      this.draw(calm);
      if (this.pos >= n - 1) return this.stop(true);
      this.playing.frame = requestAnimationFrame(tick);
    };
    this.playing.frame = requestAnimationFrame(tick);
  }

  stop(announce) {
    if (!this.playing) return;
    cancelAnimationFrame(this.playing.frame);
    this.playing = null;
    this.playButton.textContent = "▶ Play";
    this.playButton.setAttribute("aria-pressed", "false");
    this.pos = Math.round(this.pos);
    this.draw();
    if (announce) this.say("paused at ");
  }

  // --- sizes: each canvas's backing store follows its CSS size and the screen's pixel ratio

  layout() {
    if (!this.panels) return;
    const dpr = (this.dpr = window.devicePixelRatio || 1);
    for (const p of this.panels) {
      for (const c of [p.map, p.kl, p.curves]) {
        const w = Math.round(c.clientWidth * dpr), hgt = Math.round(c.clientHeight * dpr);
        if (w && (c.width !== w || c.height !== hgt)) { c.width = w; c.height = hgt; }
      }
    }
    const w = Math.round(this.panels[0].map.clientWidth);
    if (w && Math.abs(w - (this.h.width ?? 0)) > 16 && w !== this.told) {
      clearTimeout(this.widthTimer); // the exports' size: told once the layout has settled, never per frame
      this.widthTimer = setTimeout(() => { this.told = w; this.tellWidth(w); }, 600);
    }
    this.draw();
  }

  // --- drawing

  draw(calm = false) {
    if (!this.panels || this.pos == null) return;
    const began = performance.now(), n = this.stops.length;
    const p = calm ? Math.floor(this.pos) : this.pos, k = Math.round(this.pos);
    const lead = this.tracks[0], { i } = this.snapOf(lead, Math.floor(p + 1e-9));
    const sp = lead.spec, step = sp.steps[i], words = `step ${num(step)} of ${num(sp.steps[sp.S - 1])} · epoch ${num(this.stops[Math.floor(p + 1e-9)], 3)} · β ${num(sp.betas[i], 3)}`;
    this.scrub.setAttribute("aria-valuenow", String(k));
    this.scrub.setAttribute("aria-valuetext", words);
    this.scrub.dataset.step = String(step);
    this.scrub.dataset.epoch = String(this.stops[Math.floor(p + 1e-9)]);
    this.scrub.dataset.index = String(Math.floor(p + 1e-9));
    const left = (n > 1 ? (100 * p) / (n - 1) : 0) + "%";
    this.thumb.style.left = left;
    this.fill.style.width = left;
    this.readout.textContent = words;
    this.zoomButton.textContent = this.zoom === "run" ? "axes: the whole run" : "axes: follow each step";
    this.zoomButton.setAttribute("aria-pressed", String(this.zoom === "step"));
    for (const panel of this.panels) this.drawPanel(panel, this.snapOf(panel.t, p));
    const motion = reduced() ? "Reduced motion is on: play shows one snapshot a second, without gliding. " : "";
    this.note.textContent = motion + (sp.note ? "Map: " + sp.note + "." : "");
    const c = this.panels[0].map;
    c.dataset.cost = String(performance.now() - began); // every panel drawn, ms
    c.dataset.drawn = String(performance.now());
  }

  drawPanel(panel, { i, j, f }) {
    const t = panel.t;
    this.drawMap(panel, t, i, j, f);
    this.drawRecon(panel, t, f < 0.5 ? i : j);
    if (t.spec.variational) this.drawKL(panel, t, i, j, f);
    this.drawCurves(panel, t, f < 0.5 ? i : j);
  }

  drawMap(panel, t, i, j, f) {
    const c = panel.map, ctx = c.getContext("2d"), W = c.width, H = c.height, dpr = this.dpr, sp = t.spec;
    if (!W || !H) return;
    const N = sp.N, xy = t.xy, colors = this.h.colors;
    const box = this.zoom === "run" ? sp.bounds_run : sp.bounds_each[i].map((v, q) => v + f * (sp.bounds_each[j][q] - v));
    const pad = Math.round(6 * dpr), pw = W - 2 * pad, ph = H - 2 * pad;
    const [x0, x1, y0, y1] = box, sx = pw / (x1 - x0), sy = ph / (y1 - y0);
    ctx.fillStyle = "#fafafa";
    ctx.fillRect(0, 0, W, H);
    ctx.strokeStyle = "#c4c4c4";
    ctx.lineWidth = Math.max(1, dpr);
    ctx.beginPath();
    ctx.moveTo(pad + (0 - x0) * sx, 0); ctx.lineTo(pad + (0 - x0) * sx, H);
    ctx.moveTo(0, pad + (y1 - 0) * sy); ctx.lineTo(W, pad + (y1 - 0) * sy);
    ctx.stroke();
    if (sp.variational && sp.axes[0].startsWith("z")) { // the prior's 1σ and 2σ circles
      for (const r of [1, 2]) { ctx.beginPath(); ctx.ellipse(pad - x0 * sx, pad + y1 * sy, r * sx, r * sy, 0, 0, 2 * Math.PI); ctx.stroke(); }
    }
    const r = Math.max(1, Math.round(1.5 * dpr)), d = 2 * r, a = i * N * 2, b = j * N * 2;
    for (const [cls, idx] of t.groups) {
      ctx.fillStyle = colors[cls % colors.length];
      for (let q = 0; q < idx.length; q++) {
        const m = 2 * idx[q];
        let x = xy[a + m], y = xy[a + m + 1];
        if (f > 0) { x += f * (xy[b + m] - x); y += f * (xy[b + m + 1] - y); }
        ctx.fillRect(Math.round(pad + (x - x0) * sx) - r, Math.round(pad + (y1 - y) * sy) - r, d, d);
      }
    }
    ctx.fillStyle = "#222";
    ctx.font = `${Math.round(11 * dpr)}px sans-serif`;
    ctx.textAlign = "right";
    ctx.fillText(sp.axes[0] + " →", W - pad - 2, H - pad - 4);
    ctx.textAlign = "left";
    if (sp.axes[1]) ctx.fillText("↑ " + sp.axes[1], pad + 2, pad + 12 * dpr);
    c.dataset.box = JSON.stringify(box);
    c.dataset.plot = JSON.stringify([pad, pad, pw, ph]);
    c.dataset.step = String(sp.steps[i]);
    c.dataset.index = String(i);
    c.dataset.blend = String(f); // > 0 while play glides between snapshots i and j
    c.setAttribute("aria-label", `latent map of ${N.toLocaleString("en")} validation examples at step ${num(sp.steps[i])}, `
      + `epoch ${num(sp.epochs[i], 3)}: ${sp.axes[0]} from ${num(x0)} to ${num(x1)}` + (sp.axes[1] ? `, ${sp.axes[1]} from ${num(y0)} to ${num(y1)}` : ""));
  }

  drawRecon(panel, t, i) {
    const sp = t.spec, c = panel.recon, R = sp.R;
    if (!sp.image) return this.drawPoints(panel, t, i);
    const [C, H, W] = sp.shape, P = C * H * W, gap = 1, cw = R * (W + gap) - gap, ch = 2 * H + gap;
    if (c.width !== cw || c.height !== ch) { c.width = cw; c.height = ch; }
    const ctx = c.getContext("2d"), img = ctx.createImageData(cw, ch), px = img.data;
    px.fill(255);
    const put = (src, base, row) => {
      for (let q = 0; q < R; q++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
        const o = 4 * ((row * (H + gap) + y) * cw + q * (W + gap) + x), s = base + q * P + y * W + x;
        px[o] = src[s]; px[o + 1] = C === 3 ? src[s + H * W] : src[s]; px[o + 2] = C === 3 ? src[s + 2 * H * W] : src[s];
      }
    };
    put(t.originals, 0, 0);
    put(t.recon, i * R * P, 1);
    ctx.putImageData(img, 0, 0);
    c.setAttribute("aria-label", `8 validation examples and their reconstructions at step ${num(sp.steps[i])}`);
  }

  drawPoints(panel, t, i) {
    // 2-D data: the 8 points (grey) and their reconstructions (red), joined
    const c = panel.recon, sp = t.spec, R = sp.R, dpr = this.dpr, size = Math.round(140 * dpr);
    if (c.width !== size) { c.width = size; c.height = size; }
    const ctx = c.getContext("2d"), o = t.originals, rc = t.recon.subarray(i * R * 2, (i + 1) * R * 2);
    if (!t.pointBox) {
      const all = [...o, ...t.recon].filter(Number.isFinite), xs = all.filter((_, q) => q % 2 === 0), ys = all.filter((_, q) => q % 2);
      t.pointBox = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    }
    const [x0, x1, y0, y1] = t.pointBox, X = (v) => 8 + ((v - x0) / (x1 - x0 || 1)) * (size - 16), Y = (v) => size - 8 - ((v - y0) / (y1 - y0 || 1)) * (size - 16);
    ctx.fillStyle = "#fafafa"; ctx.fillRect(0, 0, size, size);
    for (let q = 0; q < R; q++) {
      ctx.strokeStyle = "#bbb"; ctx.beginPath(); ctx.moveTo(X(o[2 * q]), Y(o[2 * q + 1])); ctx.lineTo(X(rc[2 * q]), Y(rc[2 * q + 1])); ctx.stroke();
      ctx.fillStyle = "#888"; ctx.fillRect(X(o[2 * q]) - 3, Y(o[2 * q + 1]) - 3, 6, 6);
      ctx.fillStyle = "#d62728"; ctx.fillRect(X(rc[2 * q]) - 3, Y(rc[2 * q + 1]) - 3, 6, 6);
    }
    c.setAttribute("aria-label", `8 validation points and their reconstructions at step ${num(sp.steps[i])}`);
  }

  drawKL(panel, t, i, j, f) {
    const c = panel.kl, ctx = c.getContext("2d"), W = c.width, H = c.height, sp = t.spec, D = sp.D, dpr = this.dpr;
    if (!W || !H) return;
    const shown = Math.min(D, 32), gap = Math.max(1, Math.round(dpr)), label = D <= 16 ? Math.round(13 * dpr) : 0;
    const bw = (W - gap * (shown - 1)) / shown, top = sp.kl_max || 1, plotH = H - label - 2;
    ctx.fillStyle = "#fafafa"; ctx.fillRect(0, 0, W, H);
    let sum = 0;
    for (let d = 0; d < D; d++) sum += t.kl[i * D + d] + f * (t.kl[j * D + d] - t.kl[i * D + d]);
    ctx.font = `${Math.round(10 * dpr)}px sans-serif`;
    ctx.textAlign = "center";
    for (let d = 0; d < shown; d++) {
      const v = t.kl[i * D + d] + f * (t.kl[j * D + d] - t.kl[i * D + d]), hgt = Math.max(0, (v / top) * plotH);
      ctx.fillStyle = "#d62728";
      ctx.fillRect(d * (bw + gap), plotH - hgt, bw, hgt);
      if (label) { ctx.fillStyle = "#222"; ctx.fillText("z" + d, d * (bw + gap) + bw / 2, H - 2); }
    }
    panel.klLabel.textContent = `KL per latent dim at this step: ${num(sum)} nats in all` + (D > shown ? ` (the first ${shown} of ${D} dims)` : "")
      + `; the bars' scale is the run's largest, ${num(top)} nats`;
    c.setAttribute("aria-label", panel.klLabel.textContent);
  }

  drawCurves(panel, t, i) {
    const c = panel.curves, ctx = c.getContext("2d"), W = c.width, H = c.height, sp = t.spec, cv = sp.curves, dpr = this.dpr;
    if (!W || !H) return;
    ctx.fillStyle = "#fafafa"; ctx.fillRect(0, 0, W, H);
    const names = Object.keys(cv).filter((k) => k !== "step");
    if (!cv.step || !names.length) return;
    const lx = (s) => Math.log10(Math.max(1, s)), s0 = lx(cv.step[0]), s1 = Math.max(lx(cv.step[cv.step.length - 1]), s0 + 1e-9);
    const left = Math.round(64 * dpr), right = W - Math.round(6 * dpr), X = (s) => left + ((lx(s) - s0) / (s1 - s0)) * (right - left);
    const strip = H / names.length, step = sp.steps[i], colors = { loss: "#222", recon: "#1f77b4", kl: "#d62728", penalty: "#9467bd", beta: "#7f7f7f" };
    ctx.font = `${Math.round(11 * dpr)}px sans-serif`;
    const said = [];
    names.forEach((name, q) => {
      const v = cv[name], lo = Math.min(...v), hi = Math.max(...v), top = q * strip + 3 * dpr, h = strip - 8 * dpr;
      const Y = (y) => top + (hi > lo ? (1 - (y - lo) / (hi - lo)) * h : h / 2);
      ctx.strokeStyle = colors[name] ?? "#444"; ctx.lineWidth = Math.max(1, 1.5 * dpr);
      ctx.beginPath();
      v.forEach((y, m) => (m ? ctx.lineTo(X(cv.step[m]), Y(y)) : ctx.moveTo(X(cv.step[m]), Y(y))));
      ctx.stroke();
      const value = name === "beta" ? sp.betas[i] : sp.terms[i][name];
      ctx.fillStyle = "#222"; ctx.textAlign = "left";
      ctx.fillText(name, 2, top + h / 2 - 2);
      ctx.fillText(value === undefined ? "–" : num(value), 2, top + h / 2 + 11 * dpr);
      if (value !== undefined) said.push(`${name} ${num(value)}`);
    });
    ctx.strokeStyle = "#000"; ctx.lineWidth = Math.max(1, dpr);
    const x = X(Math.max(step, cv.step[0]));
    ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, H); ctx.stroke();
    c.setAttribute("aria-label", `training curves; at step ${num(step)} (that step's batch): ` + (said.join(", ") || "before the first step"));
  }
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  const [header, payload] = readMessage(data);
  for (const t of header.tracks) if (t.spec) keep(t.key, t.spec, payload);
  const root = parentElement;
  const mount = (root.__timelineMount = (root.__timelineMount ?? 0) + 1);
  const view = (root.__timelineView ??= new View(root, (key) => setTriggerValue("missing", key), (w) => setStateValue("width", w)));
  view.update(header);
  // Streamlit calls this again for new data without a cleanup in between: only the latest call's cleanup runs
  return () => {
    if (root.__timelineMount === mount) { view.destroy(); root.__timelineView = null; }
  };
}
