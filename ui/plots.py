"""Figures and pictures for the pages: plotly figures and uint8 image tiles, no model code."""
from __future__ import annotations

import base64

import numpy as np
import pandas  # noqa: F401  imported whole here: plotly imports it lazily, and two sessions' threads
import plotly.graph_objects as go  # asking at once found it half-initialised ("no attribute 'Series'")

from .presentation import style

TERM_COLORS = {"loss": "#222222", "recon": "#1f77b4", "kl": "#d62728", "penalty": "#9467bd", "beta": "#595959"}


def color(label: int) -> str:
    colors = style().colors
    return colors[int(label) % len(colors)]


def styled(fig: go.Figure) -> go.Figure:
    """`figure` for a figure built with graph objects elsewhere: the same look, the same rule."""
    return figure([t.to_plotly_json() for t in fig.data], **fig.layout.to_plotly_json())


# one shape per class, after its colour: the WebGL scatter's filled shapes that stay apart at a few pixels
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "triangle-down", "star", "pentagon",
           "hexagram")


def symbol(label: int) -> str:
    return SYMBOLS[label % len(SYMBOLS)]


def figure(traces: list[dict], **layout) -> go.Figure:
    """A figure from plain trace and layout dicts in the session's look (ui.presentation: the font,
    marker sizes and line widths scaled), validated once. Every figure function here returns through
    it; the add_* functions scale their own shapes. The pages redraw their figures on every rerun
    (the Train page's every second), and built trace by trace (each trace validated again as it is
    added, the layout updated twice) a figure took 3 to 4 times as long: 20-40 ms of server time
    for a 10,000-point map."""
    s = style()
    for t in traces:
        for part, field, scale in (("marker", "size", s.marker), ("line", "width", s.line)):
            value = t.get(part, {}).get(field)
            if scale != 1 and isinstance(value, (int, float)):
                t[part] = {**t[part], field: value * scale}
    return go.Figure(data=traces, layout={**layout, "font": dict(size=s.font, color=s.ink)})


def typed(values: np.ndarray) -> dict:
    """A numeric array in plotly's typed-array form ({"dtype": "f4", "bdata": base64}), which is how
    plotly sends it to the page anyway: given so, a figure takes it without validating and copying
    it element by element, and sends it without converting it again. For the big traces: a map of ten
    thousand points built, copied and serialized in 6 ms of server time instead of 9."""
    a = np.asarray(values)
    a = a.astype(np.int32 if a.dtype.kind in "iu" else np.float32 if a.dtype == np.float32 else np.float64)
    return {"dtype": a.dtype.str[1:], "bdata": base64.b64encode(np.ascontiguousarray(a)).decode()}


# --- pictures --------------------------------------------------------------------------------


def to_uint8(images: np.ndarray, size: int = 96) -> np.ndarray:
    """(N, C, H, W) or (C, H, W) means in [0, 1] -> (N, h, w[, 3]) uint8, upscaled by whole pixels
    to about `size` px so small images stay crisp (no browser smoothing)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[None]
    scale = max(1, size // images.shape[-1])
    out = (np.clip(images, 0, 1) * 255).round().astype(np.uint8)
    out = out.repeat(scale, axis=2).repeat(scale, axis=3)
    return out[:, 0] if out.shape[1] == 1 else out.transpose(0, 2, 3, 1)


def tile(images: np.ndarray, cols: int | None = None, pad: int = 1, size: int = 64) -> np.ndarray:
    """(N, C, H, W) or a grid (R, K, C, H, W) -> one uint8 picture with a thin dark border between tiles."""
    images = np.asarray(images)
    if images.ndim == 5:
        rows, cols = images.shape[:2]
        images = images.reshape(rows * cols, *images.shape[2:])
    cols = cols or len(images)
    rows = -(-len(images) // cols)
    small = to_uint8(images, size)
    h, w = small.shape[1:3]
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, *small.shape[3:]), 40, np.uint8)
    for i, img in enumerate(small):
        r, c = divmod(i, cols)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    return canvas


# --- latent maps ----------------------------------------------------------------------------


def latent_map(xy: np.ndarray, labels: np.ndarray, class_names, *, index: np.ndarray | None = None,
               title: str = "", axis_names=("z0", "z1"), height: int = 520, size: int = 6,
               opacity: float = 0.75, values: np.ndarray | None = None, value_name: str = "") -> go.Figure:
    """WebGL scatter of (N, 2) points; customdata holds each point's index.

    One trace per class, coloured by label; or, given `values` (N,) (a true factor such as a
    sprite's rotation), one trace coloured along a colour scale with a colour bar."""
    index = np.arange(len(xy)) if index is None else index
    xy_text = f"({axis_names[0]}, {axis_names[1]}) = (%{{x:.2f}}, %{{y:.2f}})"
    traces = []
    if values is not None:
        names = np.asarray(class_names, dtype=object)[labels]
        traces.append(dict(
            type="scattergl", x=xy[:, 0], y=xy[:, 1], mode="markers", name=value_name,
            customdata=np.stack([index, values, names], 1),
            marker=dict(size=size, color=values, colorscale="Viridis", opacity=opacity, showscale=True,
                        colorbar=dict(title=dict(text=value_name), thickness=14)),
            hovertemplate=f"<b>%{{customdata[2]}}</b> #%{{customdata[0]}}<br>{value_name} = %{{customdata[1]:.2f}}"
                          f"<br>{xy_text}<extra></extra>"))
    # a dense map's markers shrink and thin out, in presentation mode too (whose markers are larger), so
    # that ten thousand points stay points and no class hides under the others; each class has its own
    # shape as well as its colour, for whoever does not tell the colours apart
    dense = min(1.0, (2000 / max(len(xy), 1)) ** 0.25)
    for c, name in enumerate(class_names if values is None else ()):
        m = labels == c
        if m.any():
            traces.append(dict(
                type="scattergl", x=typed(xy[m, 0]), y=typed(xy[m, 1]), mode="markers", name=str(name),
                customdata=typed(index[m]),
                marker=dict(size=size * dense, color=color(c), opacity=opacity * (0.6 + 0.4 * dense),
                            symbol=symbol(c), line=dict(width=0)),
                hovertemplate=f"<b>{name}</b> #%{{customdata}}<br>{xy_text}<extra></extra>"))
    return figure(traces, title=dict(text=title), height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                  xaxis=dict(title=dict(text=axis_names[0])),
                  yaxis=dict(title=dict(text=axis_names[1]), scaleanchor="x", scaleratio=1),
                  legend=dict(title=dict(text="label")), clickmode="event+select", dragmode="pan")


def add_layout(fig: go.Figure, shapes=(), annotations=()) -> go.Figure:
    """Shapes and annotations (dicts) added to the figure's layout at once: fig.add_shape validates
    the whole list again with each one (50 rings on a map: 20 ms of server time, against 2 ms), and
    update_layout merges a list into the one there element by element."""
    for name, new in (("shapes", shapes), ("annotations", annotations)):
        if len(new):
            fig.layout[name] = (*fig.layout[name], *new)
    return fig


def add_prior_contours(fig: go.Figure, radii=(1, 2, 3)) -> go.Figure:
    """Contours of p(z) = N(0, I) in two latent dims: circles at 1, 2, 3 standard deviations."""
    return add_layout(
        fig, [dict(type="circle", x0=-r, y0=-r, x1=r, y1=r, layer="below",
                   line=dict(color="rgba(80,80,80,0.5)", width=style().line, dash="dot")) for r in radii],
        [dict(x=radii[-1] * 0.71, y=radii[-1] * 0.71, text="prior 1σ/2σ/3σ", showarrow=False,
              font=dict(size=style().font - 2, color="gray"))])


def add_ellipses(fig: go.Figure, centers: np.ndarray, sigmas: np.ndarray, labels) -> go.Figure:
    """Posterior mu +- sigma ellipses (axis-aligned: q is a diagonal Gaussian), (K, 2) each."""
    return add_layout(fig, [dict(type="circle", x0=x - sx, x1=x + sx, y0=y - sy, y1=y + sy,
                                 line=dict(color=color(c), width=2 * style().line), fillcolor=color(c), opacity=0.25)
                            for (x, y), (sx, sy), c in zip(centers, sigmas, labels)])


def add_rings(fig: go.Figure, xy: np.ndarray, radius: float) -> go.Figure:
    """Black rings around points, as layout shapes: changing only shapes lets Plotly update the
    figure without redrawing its (WebGL) traces, which keeps a click on a big map fast."""
    return add_layout(fig, [dict(type="circle", x0=x - radius, x1=x + radius, y0=y - radius, y1=y + radius,
                                 line=dict(color=style().ink, width=2 * style().line)) for x, y in xy])


def add_marks(fig: go.Figure, xy: np.ndarray, text=None, name: str = "selected", symbol: str = "x") -> go.Figure:
    fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers+text" if text else "markers", text=text,
                             textposition="top center", name=name, hoverinfo="skip",
                             textfont=dict(size=style().font + 2),
                             marker=dict(symbol=symbol, size=14 * style().marker, color=style().ink,
                                         line=dict(width=2 * style().line))))
    return fig


# --- curves and bars ------------------------------------------------------------------------


CURVE_POINTS = 1000  # a long run's curves are drawn as this many bucket means, not one point per step


def bucket_means(steps, values, n: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of a curve, as at most about `n` points: the mean of each run of consecutive
    steps, at its last step. A live page redraws its curves every second, and 100,000 steps would
    cost the server and the browser far more than the picture shows."""
    steps, values = np.asarray(steps), np.asarray(values, dtype=np.float64)
    k = -(-len(steps) // n)
    if k <= 1:
        return steps, values
    cut = len(steps) - len(steps) % k  # whole buckets; the last few steps stay as they are
    means = values[:cut].reshape(-1, k).mean(1)
    return (np.concatenate([steps[k - 1:cut:k], steps[cut:]]), np.concatenate([means, values[cut:]]))


def curves(train: dict, val: dict | None = None, height: int = 320,
           beta_changes: list[tuple[int, float]] = ()) -> go.Figure:
    """Loss terms per step (nats per example), as bucket means past CURVE_POINTS steps; validation
    terms as markers at epoch ends. The KL (or penalty) has an axis of its own on the right: a few
    nats beside a reconstruction of hundreds read as a flat line at 0 on one axis. A β changed while
    it trained is a dashed line at the first step trained with it, on both axes."""
    traces = []
    train_steps = np.asarray(train.get("step", []))  # arrays, not lists: Plotly checks a list item by item
    val_steps = np.asarray(val.get("step", [])) if val else None
    right = [n for n in ("kl", "penalty") if n in train or (val and n in val)]
    for name in ("loss", "recon", "kl", "penalty"):
        axis = "y2" if name in right else "y"
        if name in train:
            steps, values = bucket_means(train_steps, train[name])
            traces.append(dict(type="scatter", x=steps, y=values, name=name + (" (right axis)" if axis == "y2" else ""),
                               mode="lines", yaxis=axis, line=dict(color=TERM_COLORS[name], width=1.5)))
        if val and name in val:
            traces.append(dict(type="scatter", x=val_steps, y=np.asarray(val[name], dtype=np.float64),
                               name=f"val {name}", mode="markers", yaxis=axis,
                               marker=dict(color=TERM_COLORS[name], size=8, symbol="diamond")))
    shapes, notes = [], []
    for step, beta in beta_changes:
        shapes.append(dict(type="line", xref="x", x0=step, x1=step, yref="paper", y0=0, y1=1,
                           line=dict(color=TERM_COLORS["beta"], width=1.5, dash="dash")))
        notes.append(dict(x=step, xref="x", y=1, yref="paper", yanchor="bottom", text=f"β → {beta:g}",
                          showarrow=False, font=dict(color=TERM_COLORS["beta"])))
    layout = dict(height=height, margin=dict(l=10, r=10, t=10 + 14 * bool(notes), b=10), xaxis=dict(title=dict(text="step")),
                  yaxis=dict(title=dict(text="loss, recon: nats per example")), legend=dict(orientation="h", y=1.18),
                  shapes=shapes, annotations=notes)
    if right:
        layout["yaxis2"] = dict(title=dict(text=f"{' / '.join(right)}: nats", font=dict(color=TERM_COLORS[right[0]])),
                                overlaying="y", side="right", showgrid=False, rangemode="tozero")
    return figure(traces, **layout)


def per_dim_bars(mu: np.ndarray, sigma: np.ndarray | None, height: int = 260) -> go.Figure:
    """One bar per latent dim: mu, with +- sigma error bars for a VAE."""
    bars = dict(type="bar", x=[f"z{i}" for i in range(len(mu))], y=mu, marker=dict(color="#1f77b4"))
    if sigma is not None:
        bars["error_y"] = dict(type="data", array=sigma, visible=True)
    zero = dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=0, y1=0, line=dict(color="gray", width=1))
    return figure([bars], shapes=[zero], height=height, margin=dict(l=10, r=10, t=30, b=10),
                  title=dict(text="μ per dimension" + (" (± σ)" if sigma is not None else "")))


def kl_bars(kl_per_dim, height: int = 220) -> go.Figure:
    return figure([dict(type="bar", x=[f"z{i}" for i in range(len(kl_per_dim))], y=kl_per_dim,
                        marker=dict(color=TERM_COLORS["kl"]))],
                  height=height, margin=dict(l=10, r=10, t=30, b=10), title=dict(text="KL per latent dim (nats)"))


def in_plane(x: np.ndarray) -> np.ndarray:
    """(N, D) points -> (N, 2): their first two coordinates; 1-D points along x, at y = 0."""
    x = np.asarray(x).reshape(len(x), -1)
    return x[:, :2] if x.shape[1] >= 2 else np.c_[x, np.zeros(len(x))]


def count_bars(counts: dict, height: int = 300) -> go.Figure:
    """Examples per label {label: count}, one bar each in its class colour (as on the map)."""
    names = list(counts)
    return figure([dict(type="bar", x=[str(n) for n in names], y=list(counts.values()),
                        marker=dict(color=[color(i) for i in range(len(names))]),
                        hovertemplate="%{x}: %{y:,} examples<extra></extra>")],
                  height=height, margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(title=dict(text="label"), type="category"),
                  yaxis=dict(title=dict(text="examples")))


def points_2d(xy: np.ndarray, labels=None, height: int = 360, title: str = "") -> go.Figure:
    """Data that are points (toy2d, a CSV) rather than images: a plain scatter in input space of (N, D)
    points' first two coordinates (1-D points: along x)."""
    xy = in_plane(xy)
    colors = [color(l) for l in labels] if labels is not None else "#1f77b4"
    return figure([dict(type="scattergl", x=xy[:, 0], y=xy[:, 1], mode="markers", marker=dict(size=5, color=colors))],
                  height=height, title=dict(text=title), margin=dict(l=10, r=10, t=30, b=10),
                  yaxis=dict(scaleanchor="x", scaleratio=1))


# --- the digits drawn at their places -------------------------------------------------------


def add_thumbnails(fig: go.Figure, xy: np.ndarray, images: np.ndarray, labels: np.ndarray, spacing: float,
                   dim_points: float = 0.04) -> go.Figure:
    """Draw each image (K, C, H, W) in [0, 1] centred on its map point xy (K, 2) as a square of side
    `spacing` map units (the points must be `spacing` apart: vae_core.thinning.thin). All of them
    go into one transparent RGBA picture, a single layout image: the browser draws one image, not
    hundreds. Grey images are drawn in their class colour, ink opaque and background clear; the
    scatter points fade to `dim_points` opacity behind them."""
    from PIL import Image  # plotly turns a PIL image into a PNG data URI

    if len(xy) == 0:
        return fig
    (h, w), m = images.shape[-2:], max(images.shape[-2:])
    if h != w:  # a square cell on the map: the picture centred in it
        images = np.pad(images, [(0, 0), (0, 0), ((m - h) // 2, (m - h + 1) // 2), ((m - w) // 2, (m - w + 1) // 2)])
    px = -(-24 // images.shape[-1]) * images.shape[-1]  # whole-pixel upscaling to at least 24 px
    tiles = to_uint8(images, px)  # (K, px, px) or (K, px, px, 3)
    x0, y0 = xy.min(axis=0) - spacing / 2
    x1, y1 = xy.max(axis=0) + spacing / 2
    width, height = (round((x1 - x0) / spacing * px) + px, round((y1 - y0) / spacing * px) + px)
    canvas = np.zeros((height, width, 4), np.uint8)  # rows go down, y goes up
    cols = np.round((xy[:, 0] - spacing / 2 - x0) / spacing * px).astype(int)
    rows = np.round((y1 - xy[:, 1] - spacing / 2) / spacing * px).astype(int)
    for r, c, tile, label in zip(rows, cols, tiles, labels):
        if tile.ndim == 2:  # grey: the class colour, with the grey level as opacity
            rgb = np.array([int(color(label)[i:i + 2], 16) for i in (1, 3, 5)], np.uint8)
            tile = np.dstack([np.broadcast_to(rgb, (px, px, 3)), tile])
        else:
            tile = np.dstack([tile, np.full((px, px), 255, np.uint8)])
        region = canvas[r:r + px, c:c + px]
        np.maximum(region, tile[:region.shape[0], :region.shape[1]], out=region)
    fig.add_layout_image(source=Image.fromarray(canvas, "RGBA"), xref="x", yref="y", x=x0, y=y1,
                         sizex=width * spacing / px, sizey=height * spacing / px, sizing="stretch",
                         xanchor="left", yanchor="top", layer="above")
    fig.update_traces(marker_opacity=dim_points, selector=dict(type="scattergl"))
    return fig
