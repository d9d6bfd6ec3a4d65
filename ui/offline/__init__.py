"""A view of the app as one self-contained HTML page, to take away: it opens from disk with the network
off, shows the map and decodes under the pointer (touch and keyboard too), and embeds in an <iframe>.

    html = page(views, model, model_key, title, caption, card, link)   # -> str, the whole file

What is inside, and how it stays small (≤ MAX_BYTES; 1.8 MB for the 784-400-2 MNIST VAE and its
10,000 points):
- the JavaScript: ../decoder/decoder.js, the app's own in-page decoder, read from disk here (not a
  copy), then page.js (the map and the views), in one inline module; so the page decodes exactly as
  the app does. CSS: ../decoder/decoder.css and page.css.
- the decoder's weights (vae_core.webdecoder), base64: float32 where the page fits MAX_BYTES with
  them (the same bytes the app sends: the same pixels), float16 above (within 1/255 of float32 for
  every shipped model, tests/test_offline_page.py).
- the points: coordinates quantised to uint16 over their range (an error of 1/65,535 of the map's
  width, far below a screen pixel), labels as uint8.
- the view's settings, the caption, the model's card (vae_core.runcard) and a link to the app's view,
  all as JSON in a <script type="application/json">, escaped so that no text can close it; the page
  puts user text on screen with textContent only. A Content-Security-Policy allows no fetch of any
  kind and no script but this page's own (by its sha256).

A page holds a list of views; each has a `kind` that page.js knows (VIEW_KINDS: map, manifold,
interpolate). A new kind is its JavaScript file, named in KINDS, that adds itself to VIEW_KINDS.
"""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np

from vae_core import webdecoder

HERE = Path(__file__).resolve().parent
DECODER = HERE.parent / "decoder"
JS = (DECODER / "decoder.js", HERE / "page.js")
CSS = (DECODER / "decoder.css", HERE / "page.css")
# view kind -> the JavaScript files it needs beyond JS (a new kind, say the training timeline, adds its own)
KINDS: dict[str, tuple[Path, ...]] = {"map": (), "manifold": (), "interpolate": ()}
MAX_BYTES = 3 * 2**20
FORMAT = "latent-explorer/page/1"


class OfflinePageError(ValueError):
    """This view cannot be made into an offline page; the message says why."""


def b64(a: np.ndarray | bytes) -> str:
    return base64.b64encode(a if isinstance(a, bytes) else np.ascontiguousarray(a).tobytes()).decode("ascii")


def quantised(a) -> dict:
    """(N, k) numbers -> {data: base64 of uint16 LE (N*k, row-major), lo, hi (k,)}: value = lo + q / 65535 * (hi - lo)."""
    a = np.asarray(a, np.float64)
    a = a.reshape(len(a), -1)
    lo, hi = a.min(0), a.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.rint((a - lo) / span * 65535).astype("<u2")
    return {"data": b64(q), "lo": lo.tolist(), "hi": (lo + span).tolist()}


def labels(y) -> dict:
    y = np.asarray(y)
    wide = y.max(initial=0) > 255
    return {"data": b64(y.astype("<u2" if wide else "u1")), "bytes": 2 if wide else 1}


def script_json(obj) -> str:
    """JSON that can stand inside <script>: no '<', '>' or '&' (so no '</script>' or '<!--'), ASCII only
    (so no U+2028)."""
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def script(kinds) -> str:
    """The page's one module: decoder.js, page.js, each kind's own files, then start()."""
    files = [*JS, *(f for kind in dict.fromkeys(kinds) for f in KINDS[kind])]
    return "\n".join(f.read_text() for f in files) + "\nstart();\n"


TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src {script_hash}; style-src {style_hash}; base-uri 'none'; form-action 'none'">
<meta name="generator" content="Latent Explorer ({format})">
<title>Latent Explorer</title>
<style>{style}</style>
</head>
<body>
<main id="page">
<header><h1 id="title">Latent Explorer</h1><p id="caption"></p></header>
<div id="views"></div>
<footer id="about"></footer>
</main>
<noscript>This page needs JavaScript to draw its map and decode.</noscript>
<script type="application/json" id="latent-explorer-data">{data}</script>
<script type="module">{script}</script>
</body>
</html>
"""


def page(views: list[dict], model, model_key: str, title: str, caption: str = "", card: dict | None = None,
         link: str = "", dtype: str | None = None) -> str:
    """The whole HTML file. `views`: each {"kind": one of KINDS, ...} as ui.offline.views makes them;
    `model`: the Autoencoder whose decoder the page runs; `card`: vae_core.runcard.card; `link`: the
    live app's address of this view. dtype None: float32 weights where the page fits MAX_BYTES, else
    float16; raises OfflinePageError when even that does not fit, or the model can't run in a page."""
    unknown = [v.get("kind") for v in views if v.get("kind") not in KINDS]
    if unknown:
        raise ValueError(f"unknown view kinds {unknown}; known: {', '.join(KINDS)}")
    code = script(v["kind"] for v in views)
    style = "\n".join(f.read_text() for f in CSS)
    for choice in ([dtype] if dtype else ["float32", "float16"]):
        try:
            spec, weights = webdecoder.export(model, choice)
        except webdecoder.WebDecoderError as e:
            raise OfflinePageError(f"this model cannot be decoded in a page: {e}") from None
        data = {"format": FORMAT, "title": str(title), "caption": str(caption), "link": str(link), "card": card or {},
                "model": {"key": model_key, "spec": spec, "weights": b64(weights)}, "views": views}
        html = TEMPLATE.format(script_hash=_sha256(code), style_hash=_sha256(style), format=FORMAT, style=style,
                               data=script_json(data), script=code)
        if len(html.encode()) <= MAX_BYTES:
            return html
    raise OfflinePageError(f"the page would be {len(html.encode()) / 2**20:.1f} MB, over the "
                           f"{MAX_BYTES / 2**20:.0f} MB an offline page may be: fewer points, or a smaller model")
