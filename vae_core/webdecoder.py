"""A model's decoder as a layer list plus one flat weight buffer, for decoding in a web page.

The page (ui/decoder/decoder.js) runs the same computation in plain JavaScript typed arrays; this
module writes what it reads, and `reference_decode` is that computation in numpy, tested against
`vae_core.latent.decode`. The spec is plain JSON:

    {"latent_dim": 2, "n_cond": 0, "shape": [1, 8, 8], "output": "sigmoid", "dtype": "float32",
     "layers": [{"op": "linear", "in": 2, "out": 256, "weight": 0, "bias": 512}, {"op": "relu"}, ...]}

Ops, applied to one example (a vector or a (C, H, W) array), in order:
  linear   y = W x + b; W is (out, in) row-major at element offset `weight`, b (out,) at `bias`
  relu     max(x, 0)
  reshape  the vector becomes (C, H, W) = `shape` (the conv decoder's 7x7 start)
  convT    a transposed convolution, weight (in, out, k, k) as torch stores it, `stride`, `pad`
The input is z, followed by the one-hot label for a conditional model (MLPDecoder / ConvDecoder
concatenate them the same way); `output` is the mean of p(x|z): sigmoid of the logits for a
Bernoulli likelihood, the outputs themselves for a Gaussian one (losses.output_mean).

A message to the page is `frame(header, payload)`: a little-endian uint32 header length, the header
as UTF-8 JSON, zero padding to a multiple of 4 bytes, then the payload (the weights, or nothing).
"""
from __future__ import annotations

import json
import math
import struct

import numpy as np
import torch.nn as nn

from .models import Autoencoder, ConvDecoder, MLPDecoder

DTYPES = ("float32", "float16")
FLOAT32_UP_TO = 4 * 2**20     # weights above this many float32 bytes are sent as float16 ...
MAX_BYTES = 16 * 2**20        # ... and above this many (as float16) not sent at all
MAX_MACS = 40_000_000         # multiply-adds per decoding; ~40 ms in JavaScript on a slow laptop


def _little(dtype: str) -> np.dtype:
    """JavaScript typed arrays read little-endian on every browser we know of."""
    return np.dtype(dtype).newbyteorder("<")


class WebDecoderError(ValueError):
    """This model's decoder cannot be decoded in the page; the message says why."""


class Flat:
    """The flat weight buffer being written: `put(tensor)` appends one, -> its element offset."""

    def __init__(self):
        self.chunks: list[np.ndarray] = []
        self.size = 0

    def put(self, t) -> int:
        a = t.detach().float().cpu().numpy().ravel()
        self.chunks.append(a)
        self.size += a.size
        return self.size - a.size

    def array(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)


def linear_layer(m: nn.Linear, put) -> dict:
    return {"op": "linear", "in": m.in_features, "out": m.out_features,
            "weight": put(m.weight), "bias": put(m.bias)}


def conv_layer(m: nn.Conv2d | nn.ConvTranspose2d, op: str, put) -> dict:
    """A square, ungrouped (transposed) convolution with a bias and zero padding -> its layer."""
    k, s, p = m.kernel_size, m.stride, m.padding
    if (not isinstance(p, tuple) or k[0] != k[1] or s[0] != s[1] or p[0] != p[1] or m.dilation != (1, 1)
            or m.groups != 1 or m.bias is None or m.padding_mode != "zeros"
            or getattr(m, "output_padding", (0, 0)) != (0, 0)):
        raise WebDecoderError("only square, ungrouped convolutions with a bias run in the page")
    return {"op": op, "in": m.in_channels, "out": m.out_channels, "k": k[0], "stride": s[0], "pad": p[0],
            "weight": put(m.weight), "bias": put(m.bias)}


# module type -> its layer (None: nothing to do in the page); the decoder's, webencoder has its own
OPS = {nn.Linear: linear_layer, nn.ReLU: lambda m, put: {"op": "relu"},
       nn.ConvTranspose2d: lambda m, put: conv_layer(m, "convT", put)}


def layers_of(modules, put, ops: dict = OPS) -> list[dict]:
    layers = []
    for m in modules:
        if type(m) not in ops:
            raise WebDecoderError(f"the page cannot run a {type(m).__name__} layer")
        layer = ops[type(m)](m, put)
        if layer is not None:
            layers.append(layer)
    return layers


def export(model: Autoencoder, dtype: str | None = None) -> tuple[dict, bytes]:
    """The decoder of `model` -> (spec, weight bytes). `dtype` float32 / float16, or None to choose:
    float32 unless that passes FLOAT32_UP_TO bytes. Raises WebDecoderError when it can't be done."""
    flat = Flat()
    put = flat.put
    dec = model.decoder
    if isinstance(dec, MLPDecoder):
        layers = layers_of(dec.net, put)
    elif isinstance(dec, ConvDecoder):
        layers = [linear_layer(dec.fc, put), {"op": "relu"}, {"op": "reshape", "shape": list(dec.start)},
                  *layers_of(dec.deconvs, put)]
    else:
        raise WebDecoderError(f"the page cannot run a {type(dec).__name__}")
    if model.likelihood not in ("bernoulli", "gaussian"):
        raise WebDecoderError(f"no in-page mean for a {model.likelihood} likelihood")
    flat = flat.array()
    if dtype is None:
        dtype = "float32" if flat.size * 4 <= FLOAT32_UP_TO else "float16"
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be float32 or float16, got {dtype!r}")
    data = flat.astype(_little(dtype)).tobytes()
    if len(data) > MAX_BYTES:
        raise WebDecoderError(f"its decoder weights are {len(data) / 2**20:.0f} MB, too many to send to the page "
                              f"(limit {MAX_BYTES // 2**20} MB)")
    spec = {"latent_dim": model.latent_dim, "n_cond": model.n_cond, "shape": list(model.shape),
            "output": "sigmoid" if model.likelihood == "bernoulli" else "identity", "dtype": dtype,
            "size": int(flat.size), "layers": layers}
    if macs(spec) > MAX_MACS:
        raise WebDecoderError(f"one decoding takes {macs(spec) / 1e6:.0f} M multiply-adds, too slow for the page")
    return spec, data


def weights(spec: dict, data: bytes) -> np.ndarray:
    """Weight bytes -> the flat float32 array the layers index into (what the page reads)."""
    a = np.frombuffer(data, dtype=_little(spec["dtype"]))
    if a.size != spec["size"]:
        raise ValueError(f"expected {spec['size']} weights, got {a.size}")
    return a.astype(np.float32)


def _shapes(spec: dict):
    """(layer, input shape) for each layer, shapes without the batch dim."""
    shape: tuple[int, ...] = (spec["latent_dim"] + spec["n_cond"],)
    for layer in spec["layers"]:
        yield layer, shape
        if layer["op"] == "linear":
            shape = (layer["out"],)
        elif layer["op"] == "reshape":
            shape = tuple(layer["shape"])
        elif layer["op"] == "convT":
            h, w = shape[1:]
            k, s, p = layer["k"], layer["stride"], layer["pad"]
            shape = (layer["out"], (h - 1) * s - 2 * p + k, (w - 1) * s - 2 * p + k)


def macs(spec: dict) -> int:
    """Multiply-adds of one decoding."""
    total = 0
    for layer, shape in _shapes(spec):
        if layer["op"] == "linear":
            total += layer["in"] * layer["out"]
        elif layer["op"] == "convT":
            total += math.prod(shape) * layer["out"] * layer["k"] ** 2
    return total


def _conv_transpose(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """(B, Cin, H, W), weight (Cin, Cout, k, k) -> (B, Cout, (H-1)s - 2p + k, ...): every input pixel
    scatters its kernel, scaled, onto the output at (i*s + ky - p, j*s + kx - p)."""
    n, _, h, wd = x.shape
    k = w.shape[2]
    full = np.zeros((n, w.shape[1], (h - 1) * stride + k, (wd - 1) * stride + k), np.float32)
    for ky in range(k):
        for kx in range(k):
            full[:, :, ky:ky + stride * h:stride, kx:kx + stride * wd:stride] += np.einsum(
                "bihw,io->bohw", x, w[:, :, ky, kx])
    out = full[:, :, pad:full.shape[2] - pad, pad:full.shape[3] - pad]
    return out + b[None, :, None, None]


def with_label(x: np.ndarray, y, n_cond: int) -> np.ndarray:
    """(N, F) and labels (N,) or an int -> (N, F + n_cond): the one-hot label appended, as the models do."""
    if y is None:
        raise ValueError("a conditional model needs a class label")
    onehot = np.zeros((len(x), n_cond), np.float32)
    onehot[np.arange(len(x)), np.broadcast_to(np.asarray(y), (len(x),))] = 1
    return np.concatenate([x, onehot], axis=1)


def params(flat: np.ndarray, layer: dict, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A layer's weight, `shape` as torch stores it, and its bias (out,), from the flat buffer."""
    w = flat[layer["weight"]:layer["weight"] + math.prod(shape)].reshape(shape)
    return w, flat[layer["bias"]:layer["bias"] + layer["out"]]


def apply_linear(flat: np.ndarray, layer: dict, x: np.ndarray) -> np.ndarray:
    """A linear layer of the spec on (N, in) -> (N, out)."""
    w, b = params(flat, layer, (layer["out"], layer["in"]))
    return x @ w.T + b


def reference_decode(spec: dict, flat: np.ndarray, z: np.ndarray, y=None) -> np.ndarray:
    """The page's computation in numpy: z (N, latent_dim) [+ labels (N,) or an int] -> (N, *shape),
    the mean of p(x|z). `flat` is `weights(spec, data)`."""
    x = np.asarray(z, np.float32).reshape(-1, spec["latent_dim"])
    n = len(x)
    if spec["n_cond"]:
        x = with_label(x, y, spec["n_cond"])  # (N, latent_dim + n_cond)
    for layer, shape in _shapes(spec):
        op = layer["op"]
        if op == "linear":
            x = apply_linear(flat, layer, x)
        elif op == "relu":
            x = np.maximum(x, 0)
        elif op == "reshape":
            x = x.reshape(n, *layer["shape"])
        elif op == "convT":
            w, b = params(flat, layer, (layer["in"], layer["out"], layer["k"], layer["k"]))
            x = _conv_transpose(x, w, b, layer["stride"], layer["pad"])
        else:
            raise ValueError(f"unknown op {op!r}")
    x = x.reshape(n, *spec["shape"])
    return 0.5 * (1 + np.tanh(0.5 * x)) if spec["output"] == "sigmoid" else x  # sigmoid, no overflow


def frame(header: dict, payload: bytes = b"") -> bytes:
    """One message to the page: uint32 LE header length, JSON header, zero pad to 4 bytes, payload."""
    head = json.dumps(header, separators=(",", ":")).encode()
    pad = -(4 + len(head)) % 4
    return struct.pack("<I", len(head)) + head + b"\0" * pad + payload


def unframe(message: bytes) -> tuple[dict, bytes]:
    """The inverse of `frame`."""
    (n,) = struct.unpack_from("<I", message)
    start = 4 + n + (-(4 + n) % 4)
    return json.loads(message[4:4 + n]), message[start:]
