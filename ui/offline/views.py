"""The views an offline page can hold, as data for page.js: what the Latent space, Manifold and
Interpolate pages show, made from what those pages computed (no Streamlit here). Each returns one
view {"kind", "map", "decoder", "explain", ...}; "decoder" is the header ui.decoder gives the app's
in-page decoder for the same view (map_header, path_header), so both decode the same codes."""
from __future__ import annotations

import numpy as np
import torch

from vae_core.latent import grid_values, interpolate

from .. import decoder
from . import b64, labels, quantised

NOTE = "Move the pointer over the map, touch it, or focus it and press the arrow keys (Shift: bigger steps)."
MAP_CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                     "#bcbd22", "#17becf")  # ui.presentation.SCREEN's, the app's map colours


def _range(xy: np.ndarray, pad: float = 0.05, square: float | None = None) -> list[list[float]]:
    if square is not None:
        return [[-square, square], [-square, square]]
    lo, hi = xy.min(0), xy.max(0)
    p = pad * np.maximum(hi - lo, 1e-9)
    return [[float(lo[0] - p[0]), float(hi[0] + p[0])], [float(lo[1] - p[1]), float(hi[1] + p[1])]]


def map_data(xy, y, class_names, axis_names, colours=MAP_CLASS_COLOURS, values=None, value_name: str = "",
             prior: bool = False, rings=(), marks=(), path=None, crosses=None, square: float | None = None,
             size: float = 1.0, opacity: float = 0.75) -> dict:
    """The map page.js draws: points `xy` (N, 2) coloured by label `y` (or by `values`, a true
    factor), optional prior rings, rings at selected points, marks [(xy, text)], a path, grid crosses."""
    xy = np.asarray(xy, np.float64)
    out = {"x_name": str(axis_names[0]), "y_name": str(axis_names[1]), "points": quantised(xy), "labels": labels(y),
           "classes": [str(c) for c in class_names], "colors": list(colours), "range": _range(xy, square=square),
           "prior": bool(prior), "size": size, "opacity": opacity,
           "rings": np.asarray(rings, np.float64).reshape(-1, 2).tolist(),
           "marks": [{"xy": [float(v) for v in p], "text": str(t)} for p, t in marks]}
    if values is not None:
        v = np.asarray(values, np.float64)
        lo, hi = float(v.min()), float(v.max())
        q = np.rint((v - lo) / (hi - lo or 1) * 255).astype(np.uint8)
        out["values"] = {"data": b64(q), "lo": lo, "hi": hi, "name": str(value_name)}
    if path is not None:
        out["path"] = np.asarray(path, np.float64).tolist()
    if crosses is not None:
        out["crosses"] = np.asarray(crosses, np.float64).tolist()
    return out


def latent(a, pts, view: str, dims: tuple[int, int], xy: np.ndarray, axis_names, selected=(), prior: bool = False,
           values=None, value_name: str = "", colours=MAP_CLASS_COLOURS, explain: str = "") -> dict:
    """The Latent space page's map. In the two-dims view the pointer's position is the code decoded
    (other dims held as on the page); in PCA or t-SNE, whose axes are not z, the nearest example's μ."""
    sel = np.asarray(selected[:50], int)
    header = decoder.beside_map_header(a, pts, "offline.map", dims, selected)
    header["note"] = NOTE
    if view != "two dims" and pts.mu.shape[1] > 2:
        first = int(sel[0]) if len(sel) else 0
        header = {**header, "nearest": {**quantised(pts.mu), "start": first, "own_label": bool(a.model.n_cond)},
                  "title": "decoded: the μ of the example nearest the pointer", "choose_label": False}
        header.pop("dims", None)
    return {"kind": "map", "explain": explain, "decoder": header,
            "map": map_data(xy, pts.data.y.numpy(), pts.data.class_names, axis_names, colours, values, value_name,
                            prior and view == "two dims", rings=xy[sel] if len(sel) else ())}


def manifold(a, pts, dims: tuple[int, int], n: int, span: float, spacing: str, base=None, base_name: str = "0",
             label: int | None = None, all_labels: bool = False, colours=MAP_CLASS_COLOURS, explain: str = "") -> dict:
    """The Manifold page: its n x n grid (or, for a conditional model's all-labels view, one row per
    label), decoded in the page, laid over the map of the codes, and the decoding under the pointer."""
    d0, d1 = dims
    D = pts.mu.shape[1]
    z0 = np.zeros(D, np.float32) if base is None else np.asarray(base, np.float32)
    if all_labels:
        k = min(n, 12)
        cols = grid_values(k, span, spacing).tolist()
        rows = [{"y": None, "label": c} for c in range(len(pts.data.class_names))]
        caption = "rows: the labels, top to bottom · columns: the same z in each row"
    else:
        v = grid_values(n, span, spacing)
        cols, rows = v.tolist(), [{"y": y, "label": None} for y in v.flip(0).tolist()]
        caption = f"top row = highest z{d1}, left column = lowest z{d0}"
    grid_z = [[c, r["y"] if r["y"] is not None else float(z0[d1])] for r in rows for c in cols]
    vals = np.asarray(cols)
    lim = max(float(np.abs(vals).max()), float(np.abs(pts.mu[:, [d0, d1]]).max())) * 1.05
    header = decoder.beside_map_header(a, pts, "offline.map", dims, (), torch.from_numpy(z0), base_name, label)
    header["note"] = NOTE
    view = {"kind": "manifold", "explain": explain, "decoder": header,
            "map": map_data(pts.mu[:, [d0, d1]], pts.data.y.numpy(), pts.data.class_names, (f"z{d0}", f"z{d1}"),
                            colours, crosses=grid_z, square=lim, size=0.7, opacity=0.6),
            "grid": {"dims": [d0, d1], "cols": cols, "rows": rows, "base": z0.tolist(),
                     "label": label, "caption": caption}}
    if pts.data.is_image and spacing == "linear" and not all_labels:
        h = (vals[-1] - vals[0]) / max(n - 1, 1)  # one cell: tiles centred on the grid codes
        view["grid"]["tiles"] = [float(vals[0] - h / 2), float(vals[-1] + h / 2), float(vals[0] - h / 2),
                                 float(vals[-1] + h / 2)]
    return view


def interpolation(a, pts, z_a: torch.Tensor, z_b: torch.Tensor, method: str, label: int | None, t: float,
                  xy: np.ndarray, axis_names, to_view, frames: int = 10, colours=MAP_CLASS_COLOURS,
                  explain: str = "") -> dict:
    """The Interpolate page: the path from A to B on the map, the t slider (and the pointer on the map,
    which picks the nearest point of the path) decoding z(t), play, and the strip of frames."""
    header = decoder.path_header(a, "offline.t", z_a, z_b, method, label, pts.data.class_names,
                                 None if pts.data.is_image else pts.data.x, t)
    header["path_xy"] = np.asarray(to_view(np.asarray(header["path"])), np.float64).tolist()
    header["note"] = "Drag the t slider, press play, or move the pointer along the path on the map."
    ends = to_view(np.stack([z_a.numpy(), z_b.numpy()]))
    return {"kind": "interpolate", "explain": explain, "decoder": header,
            "strip": {"z": interpolate(z_a.float(), z_b.float(), frames, method).tolist()},
            "map": map_data(xy, pts.data.y.numpy(), pts.data.class_names, axis_names, colours,
                            marks=[(ends[0], "A"), (ends[1], "B")], path=header["path_xy"], size=0.7, opacity=0.35)}
