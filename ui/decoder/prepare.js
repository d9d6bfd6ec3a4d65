// A drawing as a model's input: the pad's ink prepared the way the model's dataset was made. This is
// vae_core/drawing.py line for line (its docstring states the rules: mnist, optdigits, binary, area),
// in float64, summing in the same order, so the page and the server agree to the last bit.
//
// A raster is the pad's ink: a Uint8 array of PAD x PAD coverages 0..255 (the canvas's alpha).

function spans(nIn, nOut) {
  // area resampling of nIn pixels to nOut: [out pixel, in pixel, weight], in the order summed
  const out = [];
  for (let o = 0; o < nOut; o++) {
    const lo = o * nIn / nOut, hi = (o + 1) * nIn / nOut;
    for (let r = Math.floor(lo); r < Math.ceil(hi); r++) out.push([o, r, (Math.min(hi, r + 1) - Math.max(lo, r)) * nOut / nIn]);
  }
  return out;
}

function resample(a, h0, w0, h, w) {
  // (h0, w0) Float64Array -> (h, w) by area, rows first
  const rows = new Float64Array(h * w0), out = new Float64Array(h * w);
  for (const [o, r, wt] of spans(h0, h)) for (let c = 0; c < w0; c++) rows[o * w0 + c] += wt * a[r * w0 + c];
  for (const [o, c, wt] of spans(w0, w)) for (let i = 0; i < h; i++) out[i * w + o] += wt * rows[i * w0 + c];
  return out;
}

function inkBox(raster, n, on) {
  // [top, left, height, width] of the pixels where on(value), or null
  let top = n, left = n, bottom = -1, right = -1;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      if (on(raster[i * n + j])) {
        if (i < top) top = i;
        if (i > bottom) bottom = i;
        if (j < left) left = j;
        if (j > right) right = j;
      }
  return bottom < 0 ? null : [top, left, bottom - top + 1, right - left + 1];
}

function fitSide(h, w, side) {
  const longer = Math.max(h, w);
  return [Math.max(1, Math.floor(h * side / longer + 0.5)), Math.max(1, Math.floor(w * side / longer + 0.5))];
}

function crop(raster, n, [top, left, h, w], f) {
  const a = new Float64Array(h * w);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) a[i * w + j] = f(raster[(top + i) * n + left + j]);
  return a;
}

function prepMnist(raster, n, field, box) {
  const out = new Float64Array(field * field), found = inkBox(raster, n, (v) => v > 0);
  if (!found) return out;
  const [, , h, w] = found, [bh, bw] = fitSide(h, w, box);
  const digit = resample(crop(raster, n, found, (v) => v / 255), h, w, bh, bw);
  let mass = 0, my = 0, mx = 0;
  for (let i = 0; i < bh; i++)
    for (let j = 0; j < bw; j++) {
      const v = digit[i * bw + j];
      mass += v; my += v * i; mx += v * j;
    }
  const oy = Math.floor(field / 2 - my / mass + 0.5), ox = Math.floor(field / 2 - mx / mass + 0.5);
  for (let i = 0; i < bh; i++)
    for (let j = 0; j < bw; j++) {
      const y = oy + i, x = ox + j;
      if (y >= 0 && y < field && x >= 0 && x < field) out[y * field + x] = digit[i * bw + j];
    }
  return out;
}

function prepOptdigits(raster, n, bitmap, block) {
  const bits = new Float64Array(bitmap * bitmap), found = inkBox(raster, n, (v) => v >= 128);
  if (found) {
    const [, , h, w] = found, [bh, bw] = fitSide(h, w, bitmap);
    const cover = resample(crop(raster, n, found, (v) => (v >= 128 ? 1 : 0)), h, w, bh, bw);
    const oy = Math.floor((bitmap - bh) / 2), ox = Math.floor((bitmap - bw) / 2);
    for (let i = 0; i < bh; i++) for (let j = 0; j < bw; j++) bits[(oy + i) * bitmap + ox + j] = cover[i * bw + j] >= 0.5 ? 1 : 0;
  }
  const m = bitmap / block, out = new Float64Array(m * m);
  for (let i = 0; i < bitmap; i++) for (let j = 0; j < bitmap; j++) out[Math.floor(i / block) * m + Math.floor(j / block)] += bits[i * bitmap + j];
  for (let k = 0; k < out.length; k++) out[k] /= block * block;
  return out;
}

// rule (from vae_core.drawing.Rule.header), raster -> Float32Array (C, H, W): the model's input
function prepare(rule, raster) {
  const [c, h, w] = rule.shape, n = rule.pad;
  let grey;
  if (rule.name === "mnist") grey = prepMnist(raster, n, h, 20);
  else if (rule.name === "optdigits") grey = prepOptdigits(raster, n, 4 * h, 4);
  else {
    const a = new Float64Array(n * n);
    for (let i = 0; i < a.length; i++) a[i] = raster[i] / 255;
    grey = resample(a, n, n, h, w);
    if (rule.name === "binary") for (let i = 0; i < grey.length; i++) grey[i] = grey[i] >= 0.5 ? 1 : 0;
  }
  const x = new Float32Array(c * h * w);
  for (let k = 0; k < c; k++) x.set(grey, k * h * w);
  return x;
}

// For tests: the page's preparation of a raster given as an array of numbers.
window.__latentExplorerPrepare = (rule, raster) => Array.from(prepare(rule, Uint8Array.from(raster)));
