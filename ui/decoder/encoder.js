// Encoding in the page: the model's encoder in plain JavaScript typed arrays, so that a drawing is
// encoded while the pen moves. The spec and the weight layout are written by vae_core/webencoder.py
// (its docstring describes them); vae_core.webencoder.reference_encode is this computation in numpy.
// Shares `linear` and the model store (MODELS, store) with the decoder (decoder.js).

function planEncoder(model) {
  // one reusable output buffer per layer, as the decoder's plan
  const { spec } = model;
  let shape = spec.shape.slice();
  const steps = [{ op: "input", shape, buf: new Float32Array(shape.reduce((a, b) => a * b)) }];
  for (const L of spec.layers) {
    const inShape = shape;
    if (L.op === "linear") shape = [L.out];
    else if (L.op === "cond") shape = [inShape.reduce((a, b) => a * b) + spec.n_cond];
    else if (L.op === "conv") {
      const [, h, w] = inShape;
      shape = [L.out, Math.floor((h + 2 * L.pad - L.k) / L.stride) + 1, Math.floor((w + 2 * L.pad - L.k) / L.stride) + 1];
    }
    const size = shape.reduce((a, b) => a * b);
    steps.push({ ...L, inShape, shape, buf: L.op === "relu" ? null : new Float32Array(size) });
  }
  return steps;
}

function conv(L, w, x, y) {
  // a convolution with zero padding, weight (out, in, k, k): every output sums its window
  const [cin, h, wd] = L.inShape, [cout, H, W] = L.shape, k = L.k, s = L.stride, p = L.pad;
  for (let co = 0; co < cout; co++)
    for (let oy = 0; oy < H; oy++)
      for (let ox = 0; ox < W; ox++) {
        let sum = 0;
        for (let ci = 0; ci < cin; ci++) {
          const kbase = L.weight + (co * cin + ci) * k * k, xbase = ci * h * wd;
          for (let ky = 0; ky < k; ky++) {
            const iy = oy * s - p + ky;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < k; kx++) {
              const ix = ox * s - p + kx;
              if (ix < 0 || ix >= wd) continue;
              sum += w[kbase + ky * k + kx] * x[xbase + iy * wd + ix];
            }
          }
        }
        y[(co * H + oy) * W + ox] = sum + w[L.bias + co];
      }
}

function encode(model, input, label) {
  // the model's input (C, H, W) as a flat array [+ label] -> {mu, logvar (null for a plain AE)}
  const { spec, w } = model;
  const steps = (model.scratch ??= planEncoder(model));
  let x = steps[0].buf;
  x.set(input);
  for (let i = 1; i < steps.length; i++) {
    const L = steps[i];
    if (L.op === "linear") { linear(L, w, x, L.buf); x = L.buf; }
    else if (L.op === "conv") { conv(L, w, x, L.buf); x = L.buf; }
    else if (L.op === "relu") { for (let j = 0; j < x.length; j++) if (x[j] < 0) x[j] = 0; }
    else if (L.op === "cond") {
      L.buf.fill(0);
      L.buf.set(x);
      L.buf[x.length + (label ?? 0)] = 1;
      x = L.buf;
    }
  }
  const d = spec.latent_dim;
  if (spec.variational) return { mu: Array.from(x.subarray(0, d)), logvar: Array.from(x.subarray(d, 2 * d)) };
  const code = Array.from(x.subarray(0, d));
  return { mu: spec.code === "sigmoid" ? code.map((v) => Math.fround(1 / (1 + Math.exp(-v)))) : code, logvar: null };
}

// For tests and benchmarks: encode with a stored encoder, no drawing.
window.__latentExplorerEncode = (key, input, label) => {
  const m = MODELS.get(key);
  return m ? encode(m, Float32Array.from(input), label) : null;
};
