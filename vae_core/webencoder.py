"""A model's encoder as a layer list plus one flat weight buffer, for encoding in a web page: the
counterpart of `webdecoder`, so that a drawing is encoded in the page while the pen moves.

The page (ui/decoder/encoder.js) runs the same computation in JavaScript; `reference_encode` is it in
numpy, tested against `vae_core.latent.encode`. Weights always go as float32: the page's mu and
log sigma^2 are held to torch's within 1e-4, which float16 weights would not give. The spec:

    {"shape": [1, 28, 28], "n_cond": 0, "latent_dim": 2, "variational": true, "code": "identity",
     "dtype": "float32", "size": 201988,
     "layers": [{"op": "cond"}, {"op": "linear", "in": 794, "out": 256, "weight": 0, "bias": ...}, ...]}

Ops, applied to one example (its (C, H, W) input; a flat vector once a linear layer has run):
  conv     a convolution, weight (out, in, k, k) as torch stores it, `stride`, `pad` (zeros)
  relu     max(x, 0)
  cond     the one-hot label appended to the (flattened) vector: MLPEncoder before its first layer,
           ConvEncoder after its convolutions
  linear   y = W x + b, as in webdecoder
The last layer's outputs: a VAE's first latent_dim are mu and the rest log sigma^2; a plain
autoencoder's are its code, through a sigmoid where `code` says so (a sparse AE with the KL penalty).
"""
from __future__ import annotations

import math

import numpy as np
import torch.nn as nn

from .models import Autoencoder, ConvEncoder, MLPEncoder
from . import webdecoder
from .webdecoder import MAX_BYTES, MAX_MACS, Flat, WebDecoderError, linear_layer, _little, weights

__all__ = ["export", "macs", "reference_encode", "weights"]


OPS = {**webdecoder.OPS, nn.Conv2d: lambda m, put: webdecoder.conv_layer(m, "conv", put),
       nn.Flatten: lambda m, put: None}  # flattening is free: the page's buffers are flat
del OPS[nn.ConvTranspose2d]


def export(model: Autoencoder) -> tuple[dict, bytes]:
    """The encoder of `model` -> (spec, float32 weight bytes). Raises WebDecoderError (the message
    says why) for what the page cannot run or should not be sent."""
    flat = Flat()
    enc = model.encoder
    cond = [{"op": "cond"}] if model.n_cond else []
    if isinstance(enc, MLPEncoder):
        layers = [*cond, *webdecoder.layers_of(enc.net, flat.put, OPS)]
    elif isinstance(enc, ConvEncoder):
        layers = [*webdecoder.layers_of(enc.convs, flat.put, OPS), *cond, linear_layer(enc.head, flat.put)]
    else:
        raise WebDecoderError(f"the page cannot run a {type(enc).__name__}")
    data = flat.array().astype(_little("float32")).tobytes()
    if len(data) > MAX_BYTES:
        raise WebDecoderError(f"its encoder weights are {len(data) / 2**20:.0f} MB, too many to send to the page "
                              f"(limit {MAX_BYTES // 2**20} MB)")
    spec = {"shape": list(model.shape), "n_cond": model.n_cond, "latent_dim": model.latent_dim,
            "variational": bool(model.variational), "code": "sigmoid" if model.sigmoid_code else "identity",
            "dtype": "float32", "size": len(data) // 4, "layers": layers}
    if macs(spec) > MAX_MACS:
        raise WebDecoderError(f"one encoding takes {macs(spec) / 1e6:.0f} M multiply-adds, too slow for the page")
    return spec, data


def _shapes(spec: dict):
    """(layer, its input shape, its output shape) for each layer, without the batch dim."""
    shape: tuple[int, ...] = tuple(spec["shape"])
    for layer in spec["layers"]:
        before = shape
        if layer["op"] == "linear":
            shape = (layer["out"],)
        elif layer["op"] == "cond":
            shape = (math.prod(shape) + spec["n_cond"],)
        elif layer["op"] == "conv":
            k, s, p = layer["k"], layer["stride"], layer["pad"]
            shape = (layer["out"], *((n + 2 * p - k) // s + 1 for n in shape[1:]))
        yield layer, before, shape


def macs(spec: dict) -> int:
    """Multiply-adds of one encoding: a linear layer's in x out, a convolution's outputs x in x k^2."""
    return sum(layer["in"] * layer["out"] if layer["op"] == "linear" else math.prod(out) * layer["in"] * layer["k"] ** 2
               for layer, _, out in _shapes(spec) if layer["op"] in ("linear", "conv"))


def _conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """(B, Cin, H, W), weight (Cout, Cin, k, k) -> (B, Cout, (H + 2p - k) // s + 1, ...)."""
    n, _, h, wd = x.shape
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = np.zeros((n, w.shape[0], oh, ow), np.float32)
    for ky in range(k):
        for kx in range(k):
            out += np.einsum("bihw,oi->bohw", xp[:, :, ky:ky + stride * oh:stride, kx:kx + stride * ow:stride],
                             w[:, :, ky, kx])
    return out + b[None, :, None, None]


def reference_encode(spec: dict, flat: np.ndarray, x: np.ndarray, y=None) -> tuple[np.ndarray, np.ndarray | None]:
    """The page's computation in numpy: x (N, C, H, W) [+ labels (N,) or an int] -> (mu (N, D),
    logvar (N, D) or None for a plain autoencoder). `flat` is `weights(spec, data)`."""
    x = np.asarray(x, np.float32).reshape(-1, *spec["shape"])
    n = len(x)
    for layer, _, _ in _shapes(spec):
        op = layer["op"]
        if op == "linear":
            x = webdecoder.apply_linear(flat, layer, x.reshape(n, -1))
        elif op == "relu":
            x = np.maximum(x, 0)
        elif op == "cond":
            x = webdecoder.with_label(x.reshape(n, -1), y, spec["n_cond"])  # (N, features + n_cond)
        elif op == "conv":
            w, b = webdecoder.params(flat, layer, (layer["out"], layer["in"], layer["k"], layer["k"]))
            x = _conv2d(x, w, b, layer["stride"], layer["pad"])
        else:
            raise ValueError(f"unknown op {op!r}")
    d = spec["latent_dim"]
    if spec["variational"]:
        return x[:, :d], x[:, d:]
    return (1 / (1 + np.exp(-x)) if spec["code"] == "sigmoid" else x), None
