// The drawing pad (mode "draw"): mouse, touch and pen through pointer events. While the pen moves the
// page prepares the ink as the model's dataset was made (prepare.js), encodes it (encoder.js),
// decodes mu (decoder.js) and moves the drawing's point and posterior ellipse on the map: nothing is
// sent to the server until the pen is lifted. Then the drawing goes to the server once (a PNG of the
// pad), which finds its neighbours; models the page cannot encode are encoded there (the server path).
//
// Outside checks read the pad: a <canvas> whose aria-label starts "drawing pad", its current mu as
// JSON in data-mu; the model's-eye view is the canvas whose aria-label starts "model input".

const SVG = "http://www.w3.org/2000/svg";
const SHOWN_DIMS = 8; // mu and sigma written out up to this many dims
// Moves are taken as the input arrives (pointerrawupdate, Pointer Events 3: for drawing apps; Chromium,
// secure pages), not at the next frame (pointermove is dispatched aligned to animation frames): the
// point and pictures are drawn before the frame that shows them begins, so they never take its time.
// Where pointerrawupdate is missing (Firefox, Safari, a page served over plain http), pointermove.
const RAW = typeof window !== "undefined" && "onpointerrawupdate" in window;
const FRAME_BUDGET_MS = 8; // the model's work on raw moves between two frames, at most (a fast pen on a slow phone)

function svg(tag, attrs = {}, parent = null) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) k === "text" ? (e.textContent = v) : e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function short(z) {
  const v = Array.from(z);
  return v.length > SHOWN_DIMS ? vec(v.slice(0, SHOWN_DIMS)).slice(0, -1) + ", …)" : vec(v);
}

function reconNats(out, x, spec, sigma) {
  // -log p(x | z = mu), summed over pixels, from the decoder's raw outputs (logits or means), as
  // vae_core.losses.recon_nll: BCE from logits (stable for any logit), or a Gaussian of fixed sigma
  let s = 0;
  if (spec.output === "sigmoid") {
    for (let i = 0; i < out.length; i++) { const l = out[i]; s += Math.max(l, 0) - l * x[i] + Math.log1p(Math.exp(-Math.abs(l))); }
  } else {
    for (let i = 0; i < out.length; i++) s += (x[i] - out[i]) ** 2 / (2 * sigma * sigma);
    s += 0.5 * out.length * Math.log(2 * Math.PI * sigma * sigma);
  }
  return s;
}

function klNats(mu, logvar) {
  // KL(N(mu, sigma^2) || N(0, I)), summed over dims (Kingma & Welling 2014, appendix B)
  let s = 0;
  for (let d = 0; d < mu.length; d++) s += -0.5 * (1 + logvar[d] - mu[d] * mu[d] - Math.exp(logvar[d]));
  return s;
}

class DrawView {
  constructor(root, ask, send) {
    this.ask = ask; // (model key) -> ask the server for weights it thinks we have
    this.send = send; // (drawing) -> the server, once a stroke ends
    this.box = el("div", { class: "draw" }, root);
    const row = el("div", { class: "drawrow" }, this.box);
    this.pad = el("canvas", { class: "drawpad", role: "img", "aria-label": "drawing pad" }, row);
    const views = el("div", { class: "views" }, row);
    const fig = (cls, words) => {
      const f = el("figure", {}, views);
      const c = el("canvas", { class: cls, role: "img" }, f);
      return [c, el("figcaption", { text: words }, f)];
    };
    [this.input, this.inputCaption] = fig("modelinput", "model input");
    [this.recon, this.reconCaption] = fig("picture recon", "reconstruction from μ");
    this.input.setAttribute("aria-label", "model input: nothing drawn yet");
    this.recon.setAttribute("aria-label", "reconstruction: nothing drawn yet");
    this.rule = el("div", { class: "rule" }, this.box); // how the model's input is made, under it
    this.mini = el("canvas", { class: "minimap", role: "img" }, this.box);
    this.mini.style.display = "none";
    this.tools = el("div", { class: "tools" }, this.box);
    this.numbers = el("div", { class: "numbers" }, this.box); // (no live region: it changes with every move)
    this.near = el("div", { class: "near" }, this.box);
    this.note = el("div", { class: "note" }, this.box);
    this.h = null;
    this.strokes = []; // {width, points: [[x, y], ...]} in pad pixels, drawn over `base`
    this.base = null; // ImageData: an upload, or a drawing the server handed back
    this.current = null; // the stroke the pen is drawing
    this.rev = null; // this drawing's revision: each change the server hears of gets a new one
    this.mine = new Set(); // revisions this page made (the server echoing one back is no news)
    this.off = [];
    this.listen(this.pad, "pointerdown", (e) => this.onDown(e));
    this.listen(this.pad, RAW ? "pointerrawupdate" : "pointermove", (e) => this.onMove(e));
    this.frameWork = 0; // ms of refresh() on raw moves since the last animation frame
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) this.listen(this.pad, type, (e) => this.onUp(e));
    this.listen(window, EVENT, (e) => { if (this.h && (e.detail === this.h.model || e.detail === this.h.encoder_key)) this.refresh(); });
    this.hooked = new WeakSet(); // maps whose redraws redraw the overlay
    this.asked = new Map(); // model key -> when this view last asked for its weights
  }

  listen(target, type, fn, opts) {
    target.addEventListener(type, fn, opts);
    this.off.push(() => target.removeEventListener(type, fn, opts));
  }

  destroy() {
    this.off.forEach((f) => f());
    this.overlayBox?.remove();
    this.box.remove();
  }

  update(h) {
    const first = !this.h, newRule = !this.h || this.h.rule.name !== h.rule.name;
    this.h = h;
    if (first) {
      const n = h.rule.pad;
      this.pad.width = n; this.pad.height = n;
      this.ctx = this.pad.getContext("2d", { willReadFrequently: true });
    }
    if (newRule && !this.brushTouched) this.brush = h.rule.brush;
    this.toolsFor(h);
    this.rule.textContent = h.rule.text;
    const [c, hh, ww] = h.rule.shape;
    this.inputCaption.textContent = `model input · ${hh} × ${ww}` + (c > 1 ? ` × ${c}` : "");
    const d = h.drawing;
    if (d && d.rev !== this.rev && !this.mine.has(d.rev)) this.load(d);
    else this.refresh();
  }

  toolsFor(h) {
    const t = this.tools, key = JSON.stringify([h.classes, h.rule.name]);
    if (t.dataset.key === key) return;
    t.dataset.key = key;
    t.textContent = "";
    const brush = el("label", { class: "brush" }, t);
    brush.append("brush ");
    const range = el("input", { type: "range", min: "4", max: "48", step: "1", "aria-label": "brush width" }, brush);
    range.value = String(this.brush);
    range.addEventListener("input", () => { this.brush = +range.value; this.brushTouched = true; });
    const button = (text, label, fn) => {
      const b = el("button", { type: "button", text, "aria-label": label }, t);
      b.addEventListener("click", fn);
      return b;
    };
    button("↶ undo", "undo the last stroke", () => this.undo());
    button("✕ clear", "clear the pad", () => this.clear());
    if (h.classes) {
      const row = el("label", { class: "brush" }, t);
      row.append("this is a ");
      const s = el("select", { "aria-label": "label to encode with" }, row);
      h.classes.forEach((name, i) => el("option", { value: String(i), text: name }, s));
      s.value = String(this.label ?? h.label ?? 0);
      s.addEventListener("change", () => { this.label = +s.value; this.refresh(); this.commit(); });
    }
  }

  // --- the pen

  at(e) {
    // pad pixels under the pointer (inside the border)
    const c = this.pad, r = c.getBoundingClientRect(), n = c.width;
    return [((e.clientX - r.left - c.clientLeft) / c.clientWidth) * n, ((e.clientY - r.top - c.clientTop) / c.clientHeight) * n];
  }

  ink(ctx, width) {
    ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.lineWidth = width;
    ctx.strokeStyle = "#000"; ctx.fillStyle = "#000";
  }

  dot([x, y], width) {
    this.ink(this.ctx, width);
    this.ctx.beginPath(); this.ctx.arc(x, y, width / 2, 0, 2 * Math.PI); this.ctx.fill();
  }

  segment([x0, y0], [x1, y1], width) {
    this.ink(this.ctx, width);
    this.ctx.beginPath(); this.ctx.moveTo(x0, y0); this.ctx.lineTo(x1, y1); this.ctx.stroke();
  }

  onDown(e) {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    this.pad.setPointerCapture?.(e.pointerId);
    this.moved = e.timeStamp;
    const p = this.at(e);
    this.current = { width: this.brush, points: [p] };
    this.strokes.push(this.current);
    this.dot(p, this.brush);
    this.refresh();
  }

  onMove(e) {
    if (!this.current) return;
    this.moved = e.timeStamp;
    const events = (e.getCoalescedEvents && e.getCoalescedEvents()) || [];
    for (const ev of events.length ? events : [e]) {
      const p = this.at(ev), pts = this.current.points;
      this.segment(pts[pts.length - 1], p, this.current.width);
      pts.push(p);
    }
    this.soon();
  }

  soon() {
    // the model's view of the ink: now, or, once the raw moves since the last frame have taken
    // FRAME_BUDGET_MS, at the next frame (once, for the latest ink); pointermove comes once a frame anyway
    if (!RAW) { this.refresh(); return; }
    if (this.frameWork < FRAME_BUDGET_MS) {
      const t = performance.now();
      this.refresh();
      this.frameWork += performance.now() - t;
    } else this.late = true;
    if (!this.frameAsked) {
      this.frameAsked = true;
      requestAnimationFrame(() => {
        this.frameAsked = false;
        this.frameWork = 0;
        if (this.late) { this.late = false; this.refresh(); }
      });
    }
  }

  onUp() {
    if (!this.current) return;
    this.current = null;
    this.commit();
  }

  replay() {
    const n = this.pad.width;
    this.ctx.clearRect(0, 0, n, n);
    if (this.base) this.ctx.putImageData(this.base, 0, 0);
    for (const s of this.strokes) {
      this.dot(s.points[0], s.width);
      for (let i = 1; i < s.points.length; i++) this.segment(s.points[i - 1], s.points[i], s.width);
    }
  }

  undo() {
    if (this.strokes.length) this.strokes.pop();
    else this.base = null;
    this.replay();
    this.refresh();
    this.commit();
  }

  clear() {
    this.strokes = [];
    this.base = null;
    this.replay();
    this.refresh();
    this.commit();
  }

  load(d) {
    // a drawing from the server (an upload; this drawing on another page): it becomes the base
    this.rev = d.rev;
    this.strokes = [];
    this.base = null;
    if (!d.png) { this.replay(); this.refresh(); this.pad.dataset.rev = d.rev; return; }
    const img = new Image();
    img.onload = () => {
      if (this.rev !== d.rev) return;
      const n = this.pad.width;
      this.ctx.clearRect(0, 0, n, n);
      this.ctx.drawImage(img, 0, 0);
      this.base = this.ctx.getImageData(0, 0, n, n);
      this.replay();
      this.refresh();
      this.pad.dataset.rev = d.rev; // (after the refresh: tests wait for it, then read data-mu)
    };
    img.src = d.png;
  }

  commit() {
    // the pen is up: the server hears of this drawing once (its neighbours, the server path)
    this.rev = Math.random().toString(36).slice(2, 10);
    this.mine.add(this.rev);
    this.pad.dataset.rev = this.rev;
    this.send({ rev: this.rev, png: this.empty ? null : this.pad.toDataURL("image/png"), label: this.label ?? this.h.label ?? null });
  }

  // --- what the model makes of it

  raster() {
    const n = this.pad.width, px = this.ctx.getImageData(0, 0, n, n).data, a = new Uint8Array(n * n);
    for (let i = 0; i < a.length; i++) a[i] = px[4 * i + 3];
    return a;
  }

  refresh() {
    const h = this.h;
    if (!h || !this.ctx) return;
    const began = performance.now();
    const raster = this.raster();
    this.empty = !raster.some((v) => v > 0);
    this.x = prepare(h.rule, raster);
    drawImage(this.input, { shape: h.rule.shape }, this.x);
    const label = this.label ?? h.label ?? 0;
    const enc = MODELS.get(h.encoder_key), dec = MODELS.get(h.model);
    let got = null;
    if (this.empty) got = null;
    else if (enc && !h.server) got = { ...encode(enc, this.x, label), where: "page" };
    else if (h.server && h.result) got = { ...h.result, where: "server" }; // the last the server saw, until it sees this
    this.show(got, dec, label, began);
    this.pad.dataset.ready = String(Boolean(h.server || (enc && dec))); // tests and benchmarks wait for it
    for (const k of h.server ? [] : [h.model, h.encoder_key]) {
      // weights announced but not here (the page was reloaded, or let them go): ask, at most every 5 s
      if (MODELS.has(k) || performance.now() - (this.asked.get(k) ?? -Infinity) < 5000) continue;
      this.asked.set(k, performance.now());
      setTimeout(() => { if (this.h && !MODELS.has(k)) this.ask(k); }, 1500);
    }
  }

  show(got, dec, label, began) {
    const h = this.h, pad = this.pad;
    const words = h.server ? `encoded on the server when you lift the pen: ${h.server}`
      : "encoded in your browser as you draw: the server hears of it when you lift the pen";
    this.note.textContent = words;
    if (!got) {
      delete pad.dataset.mu; delete pad.dataset.logvar; delete pad.dataset.recon; delete pad.dataset.kl;
      pad.setAttribute("aria-label", "drawing pad: draw with the mouse, a finger or a pen" + (this.empty ? "" : "; encoding…"));
      this.input.setAttribute("aria-label", "model input: " + (this.empty ? "nothing drawn yet" : "the drawing as the model sees it"));
      this.numbers.textContent = this.empty ? "Draw on the pad: where does the model put your drawing?" : "";
      const c = this.recon.getContext("2d");
      c.clearRect(0, 0, this.recon.width, this.recon.height);
      this.mu = null;
      this.overlay();
      this.neighbours();
      return;
    }
    const { mu, logvar } = got;
    let recon = got.recon_nats ?? null, kl = got.kl ?? null, out = got.recon ?? null;
    if (got.where === "page" && dec) {
      const raw = decode(dec, mu, label, true);
      recon = reconNats(raw, this.x, dec.spec, h.sigma ?? 0.1);
      out = dec.spec.output === "sigmoid" ? raw.map((l) => 1 / (1 + Math.exp(-l))) : raw;
      if (logvar) kl = klNats(mu, logvar);
    }
    if (out) drawImage(this.recon, { shape: h.rule.shape }, out);
    this.mu = mu;
    this.sigma = logvar ? logvar.map((v) => Math.exp(0.5 * v)) : null;
    pad.dataset.mu = JSON.stringify(mu);
    if (logvar) pad.dataset.logvar = JSON.stringify(logvar); else delete pad.dataset.logvar;
    if (recon !== null) pad.dataset.recon = String(recon);
    if (kl !== null) pad.dataset.kl = String(kl); else delete pad.dataset.kl;
    pad.dataset.where = got.where;
    const cls = h.classes ? ", drawn as a " + h.classes[label] : "";
    pad.setAttribute("aria-label", `drawing pad: your drawing${cls} is encoded at μ = ${short(mu)}`
      + (this.sigma ? `, σ = ${short(this.sigma)}` : "") + (recon !== null ? `; recon ${recon.toFixed(1)} nats` : "")
      + (kl !== null ? `, KL ${kl.toFixed(1)} nats` : ""));
    this.input.setAttribute("aria-label", `model input: the drawing as the model sees it, ${h.rule.shape[1]} × ${h.rule.shape[2]}`);
    this.recon.setAttribute("aria-label", "reconstruction: the decoding of μ");
    // as the click panel: recon and KL in nats, the mean sigma
    this.numbers.textContent = "";
    const metrics = el("div", { class: "metrics" }, this.numbers);
    const metric = (name, value) => {
      const m = el("div", { class: "metric" }, metrics);
      el("div", { class: "name", text: name }, m);
      el("div", { class: "value", text: value }, m);
    };
    if (recon !== null) metric("recon, nats", recon.toFixed(2));
    if (kl !== null) metric("KL, nats", kl.toFixed(2));
    if (this.sigma) metric("mean σ", (this.sigma.reduce((s, v) => s + v, 0) / this.sigma.length).toFixed(3));
    el("div", { class: "z", text: "μ = " + short(mu) + (this.sigma ? "  σ = " + short(this.sigma) : "") }, this.numbers);
    this.overlay();
    this.neighbours();
    pad.dataset.cost = String(performance.now() - began); // prepare + encode + decode + draw, ms
    pad.dataset.drawn = String(performance.now());
  }

  neighbours() {
    // the drawing's nearest examples, as the server found them once the pen was lifted
    const n = this.h.neighbours, box = this.near;
    const fresh = this.mu && n && n.rev === this.rev && !this.current;
    const key = fresh ? n.rev : this.mu ? "wait" : "";
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.textContent = "";
    if (!fresh) {
      if (this.mu) el("div", { class: "wait", text: "Lift the pen: its nearest examples come from the server." }, box);
      return;
    }
    const counts = {};
    n.labels.forEach((c) => (counts[c] = (counts[c] ?? 0) + 1));
    el("div", { class: "title", text: `Its ${n.labels.length} nearest examples in latent space, nearest first: ` + n.labels.join(", ") }, box);
    if (n.pixels) {
      const strip = el("div", { class: "strip" }, box), bytes = Uint8Array.from(atob(n.pixels), (ch) => ch.charCodeAt(0));
      const size = n.shape.reduce((a, b) => a * b);
      n.labels.forEach((c, i) => {
        const f = el("figure", {}, strip);
        const cv = el("canvas", { role: "img", "aria-label": `nearest ${i + 1}: a ${c}, ${n.dist[i].toFixed(2)} away` }, f);
        drawImage(cv, { shape: n.shape }, Array.from(bytes.subarray(i * size, (i + 1) * size), (v) => v / 255));
        el("figcaption", { text: c }, f);
      });
    }
    const mix = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([c, k]) => `${c} ×${k}`).join(" · ");
    el("div", { class: "mix", text: `Among the ${n.which}: ${mix}; ${n.dist[0].toFixed(2)} to ${n.dist[n.dist.length - 1].toFixed(2)} away, ringed on the map.` }, box);
  }

  // --- on the map: the drawing's point and posterior ellipse, the pins, the neighbours. Drawn over the
  // Plotly map (an SVG layer) and, while the map is out of sight (a phone, where it sits above the pad),
  // on a small copy of it under the pad.

  findMap() {
    const box = this.h.chart && document.querySelector(stKey(this.h.chart));
    const gd = box && box.querySelector(".js-plotly-plot");
    if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis) {
      clearTimeout(this.retry);
      if (this.h.chart && (this.tries = (this.tries ?? 0) + 1) < 120) this.retry = setTimeout(() => this.overlay(), 250);
      return null;
    }
    if (!this.hooked.has(gd) && gd.on) {
      this.hooked.add(gd);
      gd.on("plotly_afterplot", () => { this.miniCache = null; this.overlay(); });
      this.seen?.disconnect();
      this.seen = new IntersectionObserver(([e]) => { this.mapInView = e.intersectionRatio >= 0.4; this.overlay(); },
        { threshold: [0, 0.4, 1] });
      this.seen.observe(gd);
      this.off.push(() => this.seen?.disconnect());
    }
    return gd;
  }

  project(z) {
    const P = this.h.projection;
    return [0, 1].map((r) => P.b[r] + P.A[r].reduce((s, a, d) => s + a * z[d], 0));
  }

  marks([x0, x1], [y0, y1], W, H) {
    // what to draw, in pixels of a W x H plot of [x0, x1] x [y0, y1]: rings (neighbours), then points
    // with the ellipse of their posterior N(mu, diag(sigma^2)) seen through the projection (A S A^T)
    const h = this.h, sx = W / (x1 - x0), sy = H / (y1 - y0);
    const at = (z) => { const [px, py] = this.project(z); return [(px - x0) * sx, (y1 - py) * sy]; };
    const out = [];
    if (this.mu && h.neighbours && h.neighbours.rev === this.rev && !this.current) {
      for (const z of h.neighbours.z) out.push({ ring: true, xy: at(z) });
    }
    const point = (z, sigma, name, strong) => {
      const m = { xy: at(z), name, strong };
      if (sigma) {
        const A = h.projection.A, c = [[0, 0], [0, 0]];
        for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) c[i][j] = A[i].reduce((s, a, d) => s + a * A[j][d] * sigma[d] ** 2, 0);
        const a = c[0][0] * sx * sx, b = -c[0][1] * sx * sy, d = c[1][1] * sy * sy;
        const mid = (a + d) / 2, r = Math.sqrt(((a - d) / 2) ** 2 + b * b);
        m.ellipse = { rx: Math.sqrt(mid + r), ry: Math.sqrt(Math.max(mid - r, 0)), angle: 0.5 * Math.atan2(2 * b, a - d) };
      }
      out.push(m);
    };
    (h.pins ?? []).forEach((p) => point(p.mu, p.sigma, p.name, false));
    if (this.mu) point(this.mu, this.sigma, "drawing", true);
    return out;
  }

  overlay() {
    const h = this.h;
    if (!h.projection) return;
    const gd = this.findMap();
    if (!gd) return;
    const holder = gd.querySelector(".svg-container") ?? gd;
    const { xaxis: xa, yaxis: ya } = gd._fullLayout;
    if (!this.overlayBox || this.overlayBox.parentNode !== holder) {
      this.overlayBox?.remove();
      this.overlayBox = svg("svg", { class: "latent-drawing-overlay", "aria-hidden": "true" }, holder);
      Object.assign(this.overlayBox.style, { position: "absolute", left: 0, top: 0, pointerEvents: "none", zIndex: 6, overflow: "hidden" });
    }
    const o = this.overlayBox;
    Object.assign(o.style, { left: xa._offset + "px", top: ya._offset + "px" });
    o.setAttribute("width", xa._length); o.setAttribute("height", ya._length);
    o.textContent = "";
    const marks = this.marks(xa.range, ya.range, xa._length, ya._length);
    for (const m of marks) {
      const [cx, cy] = m.xy;
      if (m.ring) { svg("circle", { cx, cy, r: 7, fill: "none", stroke: "#111", "stroke-width": 2 }, o); continue; }
      if (m.ellipse) {
        const e = m.ellipse;
        svg("ellipse", { cx, cy, rx: e.rx, ry: e.ry, transform: `rotate(${(e.angle * 180) / Math.PI} ${cx} ${cy})`,
          fill: m.strong ? "rgba(0,0,0,0.12)" : "rgba(0,0,0,0.05)", stroke: "#111", "stroke-width": m.strong ? 2 : 1,
          "stroke-dasharray": "5 3" }, o);
      }
      svg("circle", { cx, cy, r: m.strong ? 8 : 6, fill: m.strong ? "#111" : "#fff", stroke: m.strong ? "#fff" : "#111", "stroke-width": 2 }, o);
      svg("text", { x: cx + 10, y: cy - 8, text: m.name, "font-size": "14", "font-weight": "700", fill: "#111", stroke: "#fff",
        "stroke-width": 3, "paint-order": "stroke", "font-family": "sans-serif" }, o);
    }
    const me = marks.find((m) => m.strong);
    if (me) this.pad.dataset.mapXy = JSON.stringify([me.xy[0] + xa._offset, me.xy[1] + ya._offset]); // chart pixels
    else delete this.pad.dataset.mapXy;
    this.minimap(gd);
  }

  minimap(gd) {
    // the map in small, under the pad, while the real one is out of sight: its points at one scale
    // for both axes, over their own extent
    const c = this.mini, show = this.mapInView === false && (this.mu || (this.h.pins ?? []).length);
    c.style.display = show ? "block" : "none";
    if (!show) return;
    if (!this.miniCache) {
      const traces = gd._fullData.filter((t) => t.visible === true && t.x && t.y && String(t.mode).includes("markers"));
      let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
      for (const t of traces) for (let i = 0; i < t.x.length; i++) {
        x0 = Math.min(x0, t.x[i]); x1 = Math.max(x1, t.x[i]); y0 = Math.min(y0, t.y[i]); y1 = Math.max(y1, t.y[i]);
      }
      if (!(x1 > x0 && y1 > y0)) return;
      const W = 208, H = Math.round(Math.min(150, Math.max(110, (W * (y1 - y0)) / (x1 - x0))));
      const unit = Math.min(W / (x1 - x0), H / (y1 - y0)) / 1.1, cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      const xr = [cx - W / 2 / unit, cx + W / 2 / unit], yr = [cy - H / 2 / unit, cy + H / 2 / unit];
      // the map's own points (every class trace), at most ~4000 of them, drawn once per map
      const cache = document.createElement("canvas"), ctx = cache.getContext("2d");
      cache.width = W; cache.height = H;
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
      const total = traces.reduce((s, t) => s + t.x.length, 0), step = Math.max(1, Math.ceil(total / 4000));
      for (const t of traces) {
        ctx.fillStyle = typeof t.marker?.color === "string" ? t.marker.color : "#999";
        for (let i = 0; i < t.x.length; i += step) ctx.fillRect((t.x[i] - xr[0]) * unit - 1, (yr[1] - t.y[i]) * unit - 1, 2, 2);
      }
      this.miniCache = { cache, xr, yr, W, H };
    }
    const { cache, xr, yr, W, H } = this.miniCache;
    if (c.width !== W || c.height !== H) { c.width = W; c.height = H; }
    const ctx = c.getContext("2d");
    ctx.drawImage(cache, 0, 0);
    for (const m of this.marks(xr, yr, W, H)) {
      const [x, y] = m.xy;
      ctx.lineWidth = 2; ctx.strokeStyle = "#111";
      if (m.ring) { ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI); ctx.stroke(); continue; }
      if (m.ellipse) {
        ctx.fillStyle = "rgba(0,0,0,0.15)";
        ctx.beginPath(); ctx.ellipse(x, y, Math.max(m.ellipse.rx, 1), Math.max(m.ellipse.ry, 1), m.ellipse.angle, 0, 2 * Math.PI);
        ctx.fill(); ctx.stroke();
      }
      ctx.beginPath(); ctx.arc(x, y, m.strong ? 5 : 4, 0, 2 * Math.PI);
      ctx.fillStyle = m.strong ? "#111" : "#fff"; ctx.fill(); ctx.strokeStyle = m.strong ? "#fff" : "#111"; ctx.stroke();
      if (!m.strong) { ctx.fillStyle = "#111"; ctx.font = "bold 11px sans-serif"; ctx.fillText(m.name, x + 6, y - 5); }
    }
    c.setAttribute("aria-label", "where your drawing lands on the map (the map itself is out of sight)");
  }
}
