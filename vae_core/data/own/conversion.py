"""The conversion of what was read (`Raw`) into a dataset every model trains on: one set of rules,
applied in one order, whatever the format.

Images, in this order:
1. values to [0, 1]: 8-bit / 255, 16-bit / 65535 (image files); arrays: integers 0..1 kept, 0..255
   / 255; floats in [0, 1] kept, in [0, 255] / 255; anything else scaled from its min..max (said in
   a note); RGBA / grey+alpha laid on white. NaN or Inf is refused.
2. size (`Options.size`): "28" or "32": the shorter side scaled to 28 (32), the centre 28x28 (32x32)
   kept; "kept": the most common size, other sizes fitted to it the same way, and a size over
   MAX_SIDE fitted to MAX_SIDE on its longer side (notes say so). Bilinear, antialiased (torch).
3. 8 bits: the stored dataset holds uint8 pixels, as a PNG does.
4. colour (`Options.colour`): "grey": luma 0.299 R + 0.587 G + 0.114 B (ITU-R 601, as Pillow's L);
   "colour": three channels (grey images stay grey); "auto": colour when any pixel has colour.
5. invert (`Options.invert`): "yes": 1 - x; "auto": when the median over the images of the mean of
   their border pixels is above one half (a light background: digits are light on dark, as MNIST).
Points (a CSV, or a 2-D array whose columns are not a square number of at least 64 pixels): each
column scaled linearly into [0.05, 0.95] (the rule of the built-in toy2d), float32; the options do
not apply. Labels: integers (with optional class names) or text; classes in natural order.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
import torch.nn.functional as F

from ..dataset import Dataset, DatasetError
from . import images as img
from . import png
from .formats import Raw
from .progress import Progress, Stage
from .limits import MAX_BYTES, MAX_CLASSES, MAX_EXAMPLES, MAX_POINT_DIMS, MAX_SIDE, MIN_EXAMPLES, DataRefused, count, mb

CHUNK = 4096            # images converted at a time (bounds the float32 copy)
UNLABELLED = "all"      # the one class of a dataset without labels
FORMAT = "vae_core-dataset/1"


def _option(default: str, choices: tuple[str, ...], help: str):
    return field(default=default, metadata={"choices": choices, "help": help})


@dataclass(frozen=True)
class Options:
    """How a user's images are converted (declared once: the CLI's names, the app's inputs read these)."""
    size: str = _option("kept", ("kept", "28", "32"), "28 or 32: fitted to 28x28 or 32x32; kept: their own size "
                        f"(at most {MAX_SIDE} pixels a side)")
    colour: str = _option("auto", ("auto", "grey", "colour"), "grey or colour; auto: colour when any pixel has "
                          "colour")
    invert: str = _option("auto", ("auto", "yes", "no"), "invert a light background; auto: when the images' "
                          "borders are mostly light")

    def __post_init__(self):
        for f in fields(self):
            value, choices = getattr(self, f.name), f.metadata["choices"]
            if value not in choices:
                raise DatasetError(f"{f.name} must be one of {', '.join(choices)}; got {value!r}")

    def text(self) -> str:
        """'size=28,colour=grey,invert=auto': how a dataset name carries them."""
        return ",".join(f"{k}={v}" for k, v in asdict(self).items())

    @classmethod
    def parse(cls, text: str) -> Options:
        """'size=28,colour=grey' -> Options; DatasetError names a bad key or value."""
        given = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, eq, value = part.partition("=")
            if not eq or key not in OPTION_NAMES:
                raise DatasetError(f"unknown option {part!r}; the options are {', '.join(OPTION_NAMES)}")
            given[key] = value
        return cls(**given)


OPTION_NAMES = tuple(f.name for f in fields(Options))


@dataclass(frozen=True)
class Report:
    """What a source holds and what it becomes: `python -m vae_core.data inspect` prints to_json()."""
    source: str
    format: str
    count: int
    shape: list            # one example in the source: [H, W] or [H, W, C] (the most common), [D] for points
    dtype: str
    range: list            # [min, max] of the source values
    labels: dict | None    # class -> count; None when there are no labels
    converted: dict        # kind, image_shape, dtype, range, size, colour, invert, bytes, digest, notes
    shapes: dict | None = None  # "HxW" -> count, when images differ in size

    def to_json(self) -> dict:
        d = asdict(self)
        if d["shapes"] is None:
            del d["shapes"]
        return d


@dataclass(frozen=True)
class Preview:
    """A few examples and the numbers an upload page shows."""
    x: np.ndarray                  # (n, C, H, W) float32 in [0, 1], or (n, D) points
    y: np.ndarray                  # (n,) int64
    class_names: tuple[str, ...]
    counts: dict                   # class -> count, over the whole dataset
    image_shape: tuple[int, ...]
    range: tuple[float, float]     # of the converted values


@dataclass(frozen=True, eq=False)
class Converted:
    """A converted dataset: what is stored, what a Dataset is made from, and its report."""
    x: np.ndarray                  # (N, C, H, W) uint8, or (N, D) float32 points in [0.05, 0.95]
    y: np.ndarray                  # (N,) int64 in 0..K-1
    class_names: tuple[str, ...]
    report: Report

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def digest(self) -> str:
        return self.report.converted["digest"]

    def to_dataset(self, name: str) -> Dataset:
        x = torch.from_numpy(self.x)
        x = x.float().div_(255) if self.x.dtype == np.uint8 else x.float()
        c = self.report.converted
        return Dataset(name=name, x=x, y=torch.from_numpy(self.y), class_names=self.class_names,
                       image_shape=self.image_shape,
                       source=f"{self.report.source}: {self.report.format}, {count(len(self.x), 'example')}, "
                              f"as {describe(c)}")

    def preview(self, n: int = 64) -> Preview:
        """`n` examples, taken in turn from each class (so that every class shows), in dataset order."""
        by_class = [np.flatnonzero(self.y == k) for k in range(len(self.class_names))]
        order = [idx[i] for i in range(max(map(len, by_class), default=0)) for idx in by_class if i < len(idx)][:n]
        idx = np.sort(np.array(order, dtype=np.int64))
        x = self.x[idx]
        x = x.astype(np.float32) / 255 if x.dtype == np.uint8 else x.astype(np.float32)
        counts = self.report.labels or {UNLABELLED: len(self.x)}
        return Preview(x, self.y[idx], self.class_names, counts, self.image_shape,
                       tuple(self.report.converted["range"]))


def describe(c: dict) -> str:
    """'1x28x28 grey, inverted' / '2-D points': a converted dataset in a few words."""
    if c["kind"] == "points":
        return f"{c['image_shape'][0]}-D points"
    shape = "x".join(map(str, c["image_shape"]))
    return f"{shape} {c['colour']}{', inverted' if c['invert'] else ''}"


def convert(raw: Raw, options: Options | None = None, progress: Progress | None = None) -> Converted:
    """Apply the module's rules; DataRefused (naming the file) for what they do not allow."""
    options = options or Options()
    stage = Stage(progress, 0.5, 1.0, "converting")
    notes = list(raw.notes)
    if raw.images is not None:
        a, source_info = _from_files(raw, options, notes, stage)
    else:
        x = raw.x
        if x.ndim == 2 and not _square_images(x.shape[1]):
            return _points(raw, notes, options)
        a, source_info = _from_array(raw, options, notes, stage)
    n = len(a)
    if n < MIN_EXAMPLES:
        raise DataRefused(raw.label, f"{count(n, 'example')}; at least {MIN_EXAMPLES} are needed")
    y, class_names, counts = _labels(raw, n)
    a, colour, invert = _colour_and_invert(a, options, notes)
    _check_bytes(raw.label, *a.shape)  # with the channels as decided
    x = np.ascontiguousarray(a.transpose(0, 3, 1, 2))  # (N, H, W, C) -> (N, C, H, W)
    stage(1, 1)
    converted = {"kind": "images", "image_shape": list(x.shape[1:]), "dtype": "uint8",
                 "range": [float(x.min()) / 255, float(x.max()) / 255], "size": options.size, "colour": colour,
                 "invert": invert, "bytes": x.nbytes}
    return _finish(raw, x, y, class_names, counts, converted, notes, source_info)


def _finish(raw, x, y, class_names, counts, converted, notes, source_info) -> Converted:
    converted["digest"] = digest(x, y, class_names)
    converted["notes"] = notes
    report = Report(source=raw.label, format=raw.format, count=len(x), labels=counts, converted=converted,
                    **source_info)
    return Converted(x, y, class_names, report)


def digest(x: np.ndarray, y: np.ndarray, class_names: tuple[str, ...]) -> str:
    """16 hex digits of the sha256 of the converted data: what names it in a workspace and a config."""
    h = hashlib.sha256(f"{FORMAT}\n{json.dumps([list(x.shape), str(x.dtype), list(class_names)])}\n".encode())
    h.update(np.ascontiguousarray(x).data)
    h.update(np.ascontiguousarray(y, dtype="<i8").data)
    return h.hexdigest()[:16]


def _square_images(d: int) -> bool:
    """A row of d values is a square grey image when d = k*k with k >= 8 (784 columns -> 28x28)."""
    k = math.isqrt(d)
    return k >= 8 and k * k == d


# --- images: stage A gives (N, H, W, C) uint8 at the target size, C 1 or 3 ------------------------


def _target(sizes: Counter, options: Options, notes: list[str]) -> tuple[int, int]:
    """The (H, W) every image is fitted to."""
    if options.size != "kept":
        s = int(options.size)
        return s, s
    (h, w), n = max(sizes.items(), key=lambda kv: (kv[1], kv[0][0] * kv[0][1]))
    others = sum(sizes.values()) - n
    if others:
        notes.append(f"{count(others, 'image')} of other sizes fitted to {h}x{w}, the most common size")
    if max(h, w) > MAX_SIDE:
        s = MAX_SIDE / max(h, w)
        th, tw = max(1, round(h * s)), max(1, round(w * s))
        notes.append(f"images of {h}x{w} resized to {th}x{tw}: at most {MAX_SIDE} pixels a side")
        return th, tw
    return h, w


def fit(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(n, C, h, w) float -> (n, C, H, W): scaled to cover (H, W), aspect kept, then the centre cut."""
    h, w = batch.shape[-2:]
    H, W = size
    if (h, w) == (H, W):
        return batch
    s = max(H / h, W / w)
    nh, nw = max(H, round(h * s)), max(W, round(w * s))
    batch = F.interpolate(batch, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
    top, left = (nh - H) // 2, (nw - W) // 2
    return batch[:, :, top:top + H, left:left + W]


def _to_uint8(batch: torch.Tensor) -> np.ndarray:
    """(n, C, H, W) float in [0, 1] -> (n, H, W, C) uint8, rounded."""
    return batch.mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _check_bytes(label: str, n: int, h: int, w: int, c: int) -> None:
    if n * h * w * c > MAX_BYTES:
        raise DataRefused(label, f"{count(n, 'example')} of {c}x{h}x{w} make {mb(n * h * w * c)} after conversion, "
                                 f"more than the {mb(MAX_BYTES)} allowed: choose size 28 or grey, or fewer examples")


def _from_files(raw: Raw, options: Options, notes: list[str], stage: Stage) -> tuple[np.ndarray, dict]:
    files = raw.images
    sizes = Counter(f.size for f in files)
    H, W = _target(sizes, options, notes)
    C = 3 if any(f.channels == 3 for f in files) and options.colour != "grey" else 1
    _check_bytes(raw.label, len(files), H, W, 1)
    out = np.empty((len(files), H, W, C), np.uint8)
    one_by_one = [i for i, f in enumerate(files) if not (f.fast and f.size == (H, W))]
    for c in (1, 3):  # the common PNGs already at the target size: decoded in batches (own.png)
        batch = [i for i, f in enumerate(files) if f.fast == c and f.size == (H, W)]
        for s in range(0, len(batch), CHUNK):
            part = np.array(batch[s:s + CHUNK])
            pixels, failed = png.decode_batch([files[i].data for i in part], H, W, c)
            ok = np.setdiff1d(np.arange(len(part)), failed)
            out[part[ok]] = _channels(pixels[ok], C)
            one_by_one += part[failed].tolist()
            stage(s + len(part), len(files))
    for k, i in enumerate(sorted(one_by_one)):  # Pillow: other formats and sizes, and whatever the batch refused
        stage(len(files) - len(one_by_one) + k, len(files))
        a = img.decode(files[i], (H, W))  # (h, w, c) uint8
        if a.shape[:2] != (H, W):
            a = _to_uint8(fit(torch.tensor(a).permute(2, 0, 1)[None].float().div_(255), (H, W)))[0]
        out[i] = _channels(a, C)
    (h, w), _ = sizes.most_common(1)[0]
    chans = {f.channels for f in files}
    deep = any(f.image is not None and f.image.mode.startswith("I") for f in files)  # 16-bit PNGs
    info = {"shape": [h, w] if chans == {1} else [h, w, 3], "dtype": "uint16" if deep else "uint8",
            "range": [0, 65535 if deep else 255],
            "shapes": {f"{a}x{b}": n for (a, b), n in sorted(sizes.items())} if len(sizes) > 1 else None}
    return out, info


def _channels(a: np.ndarray, c: int) -> np.ndarray:
    """(..., 1 or 3) uint8 -> (..., c): grey by luma, or grey repeated."""
    if a.shape[-1] == c:
        return a
    return _luma(a) if c == 1 else np.repeat(a, 3, axis=-1)


def _layout(x: np.ndarray, where: str, notes: list[str]) -> np.ndarray:
    """(N, k*k) -> (N, k, k, 1); (N, H, W) -> (N, H, W, 1); (N, C, H, W) -> (N, H, W, C): a view."""
    if x.ndim == 2:
        k = math.isqrt(x.shape[1])
        notes.append(f"{x.shape[1]} values a row read as {k}x{k} grey images")
        return x.reshape(len(x), k, k, 1)
    if x.ndim == 3:
        return x[..., None]
    if x.ndim == 4 and x.shape[3] in (1, 3, 4):
        return x
    if x.ndim == 4 and x.shape[1] in (1, 3, 4):
        notes.append("channels first (N, C, H, W) read as such")
        return x.transpose(0, 2, 3, 1)
    raise DataRefused(where, f"examples of shape {tuple(x.shape[1:])}: give N x H x W, N x H x W x C (C = 1, 3 "
                             "or 4) or N x D")


def _scale_rule(x: np.ndarray, where: str, notes: list[str]) -> tuple[float, float]:
    """(offset, factor) with (x - offset) * factor in [0, 1]: the module's step 1 for arrays."""
    if x.size == 0:
        return 0.0, 1.0
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if bad.any():
            raise DataRefused(where, f"NaN or infinite values (first in example {int(np.argmax(bad))}); refused")
    if x.dtype.kind == "b":
        return 0.0, 1.0
    lo, hi = float(x.min()), float(x.max())
    if lo >= 0 and hi <= 1:
        return 0.0, 1.0
    if lo >= 0 and hi <= 255:
        notes.append("values from 0 to 255 divided by 255")
        return 0.0, 1 / 255
    notes.append(f"values from {lo:g} to {hi:g} scaled to [0, 1]")
    return lo, (1 / (hi - lo) if hi > lo else 0.0)


def _from_array(raw: Raw, options: Options, notes: list[str], stage: Stage) -> tuple[np.ndarray, dict]:
    x0 = raw.x
    if len(x0) > MAX_EXAMPLES:
        raise DataRefused(raw.x_where, f"{count(len(x0), 'example')}, more than the {MAX_EXAMPLES:,} allowed")
    x = _layout(x0, raw.x_where, notes)  # (N, h, w, c)
    n, h, w, c = x.shape
    if h < 1 or w < 1:
        raise DataRefused(raw.x_where, f"examples of {h}x{w} pixels")
    H, W = _target(Counter({(h, w): n}), options, notes)
    offset, factor = _scale_rule(x, raw.x_where, notes)
    C = 1 if c == 1 or options.colour == "grey" else 3
    _check_bytes(raw.label, n, H, W, 1)
    lo, hi = (float(x0.min()), float(x0.max())) if x0.size else (0.0, 0.0)
    info = {"shape": list(x0.shape[1:]), "dtype": str(x0.dtype), "range": [lo, hi]}
    if x.dtype == np.uint8 and factor == 1 / 255 and (H, W) == (h, w) and c == C:
        return np.ascontiguousarray(x), info  # already what conversion gives: no float pass
    out = np.empty((n, H, W, C), np.uint8)
    for i in range(0, n, CHUNK):
        stage(i, n)
        t = torch.from_numpy(np.ascontiguousarray(x[i:i + CHUNK], dtype=np.float32))  # (n, h, w, c)
        t = ((t - offset) * factor).clamp_(0, 1).permute(0, 3, 1, 2)                  # (n, c, h, w)
        if c in (2, 4):  # the last channel is alpha: laid on white
            t = t[:, :-1] * t[:, -1:] + (1 - t[:, -1:])
        a = _to_uint8(fit(t, (H, W)))
        out[i:i + CHUNK] = _channels(a, C)
    return out, info


def _luma(a: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> (..., 1) uint8 grey: ITU-R 601 luma, rounded (Pillow's convert("L"))."""
    r, g, b = (a[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)[..., None]


def _colour_and_invert(a: np.ndarray, options: Options, notes: list[str]) -> tuple[np.ndarray, str, bool]:
    """Steps 4 and 5 on (N, H, W, C) uint8, in place where it can."""
    colourful = a.shape[3] == 3 and bool(np.any(a[..., 0] != a[..., 1]) or np.any(a[..., 1] != a[..., 2]))
    if a.shape[3] == 3 and options.colour == "auto" and not colourful:
        a = np.ascontiguousarray(a[..., :1])  # every pixel grey: one channel says it all
    if options.colour == "colour" and a.shape[3] == 1:
        notes.append("the images are grey: kept with one channel")
    colour = "colour" if a.shape[3] == 3 else "grey"
    if options.invert == "auto":
        border = np.concatenate([a[:, 0], a[:, -1], a[:, :, 0], a[:, :, -1]], axis=1)  # (N, 2W + 2H, C)
        grey = _luma(border) if border.shape[2] == 3 else border
        invert = bool(np.median(grey.reshape(len(a), -1).mean(axis=1)) > 127.5)
        if invert:
            notes.append("light background: inverted (light digits on dark, as MNIST)")
    else:
        invert = options.invert == "yes"
    if invert:
        np.subtract(255, a, out=a)
    return a, colour, invert


# --- points and labels -------------------------------------------------------------------------


def _points(raw: Raw, notes: list[str], options: Options) -> Converted:
    x = raw.x
    n, d = x.shape
    if n > MAX_EXAMPLES:
        raise DataRefused(raw.x_where, f"{count(n, 'example')}, more than the {MAX_EXAMPLES:,} allowed")
    if n < MIN_EXAMPLES:
        raise DataRefused(raw.label, f"{count(n, 'example')}; at least {MIN_EXAMPLES} are needed")
    if not 1 <= d <= MAX_POINT_DIMS:
        raise DataRefused(raw.x_where, f"{d} values a point; from 1 to {MAX_POINT_DIMS} are read as points (a square "
                                       "number of at least 64 as images)")
    if x.dtype.kind not in "biuf":
        raise DataRefused(raw.x_where, f"holds {x.dtype} values, not numbers")
    values = x.astype(np.float64)
    if not np.isfinite(values).all():
        bad = ~np.isfinite(values).all(axis=1)
        raise DataRefused(raw.x_where, f"NaN or infinite values (first in example {int(np.argmax(bad))}); refused")
    lo, hi = values.min(axis=0), values.max(axis=0)
    scaled = np.where(hi > lo, 0.05 + 0.9 * (values - lo) / np.where(hi > lo, hi - lo, 1), 0.5).astype(np.float32)
    if options != Options():
        notes.append("size, colour and invert apply to images, not to points")
    notes.append("each column scaled into [0.05, 0.95], as the built-in toy2d points")
    y, class_names, counts = _labels(raw, n)
    converted = {"kind": "points", "image_shape": [d], "dtype": "float32",
                 "range": [float(scaled.min()), float(scaled.max())], "columns": raw.columns or
                 [f"x{i + 1}" for i in range(d)], "scale": [lo.tolist(), hi.tolist()], "bytes": scaled.nbytes}
    info = {"shape": [d], "dtype": str(x.dtype), "range": [float(lo.min()), float(hi.max())]}
    return _finish(raw, scaled, y, class_names, counts, converted, notes, info)


def _natural(s: str):
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", s) if t]


def _labels(raw: Raw, n: int) -> tuple[np.ndarray, tuple[str, ...], dict | None]:
    """(y (N,) int64, class names, class -> count or None): step "labels" of the module."""
    labels = raw.labels
    if labels is None:
        return np.zeros(n, np.int64), (UNLABELLED,), None
    where = raw.x_where or raw.label
    if len(labels) != n:
        raise DataRefused(where, f"{count(len(labels), 'label')} for {count(n, 'example')}")
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all() or not np.all(labels == np.round(labels)):
            raise DataRefused(where, "labels must be whole numbers or names")
        labels = labels.astype(np.int64)
    if labels.dtype.kind in "biu":
        values = np.unique(labels)
        if raw.class_names is not None:
            if values.min() < 0 or values.max() >= len(raw.class_names):
                raise DataRefused(where, f"labels from {values.min()} to {values.max()} for "
                                         f"{count(len(raw.class_names), 'class name')}")
            names, y = tuple(raw.class_names), labels.astype(np.int64)
        else:
            names, y = tuple(str(v) for v in values.tolist()), np.searchsorted(values, labels).astype(np.int64)
    else:
        text = labels.astype(str).tolist()
        names = tuple(sorted(set(text), key=_natural))
        index = {name: i for i, name in enumerate(names)}
        y = np.array([index[t] for t in text], np.int64)
    if len(names) > MAX_CLASSES:
        raise DataRefused(where, f"labels take {len(names):,} different values; at most {MAX_CLASSES:,} classes")
    counts = np.bincount(y, minlength=len(names))
    return y, names, {name: int(c) for name, c in zip(names, counts)}
