"""Every page of the app, each declared once: its title, file, address, icon and group, the widget
keys it keeps across a visit elsewhere, and the link parameters it reads and writes.

The navigation (app.py), the kept widget values (ui.widgets), lesson links (ui.links) and the
per-page tests (tests/test_app.py) all read PAGES. Adding a page is its file plus one entry here.
"""
from __future__ import annotations

from dataclasses import dataclass

from vae_core.config import KNOBS
from vae_core.latent import PATHS

from . import params, runs
from .params import Param, choice, dims, integer, number, word_of


@dataclass(frozen=True)
class PageSpec:
    name: str                      # its address (/latent) and the name links and tests use
    title: str
    target: str                    # the page's script, relative to app.py
    icon: str                      # a Material icon
    group: str                     # its section in the navigation
    kept: tuple[str, ...] = ()     # widget keys kept across navigation; "prefix.*" keeps every key under it
    params: tuple[Param, ...] = ()  # its link parameters (beyond model, present, hide: every page's)
    hide: str = ""                 # the `hide=` flag that drops it from the navigation ("" = none)
    default: bool = False          # the first screen


VIEW = {"dims": "two dims", "pca": "PCA", "tsne": "t-SNE"}
COLOUR = {w: w for w in ("label", "scale", "rotation", "pos_x", "pos_y")}
LABELS = {"one": "one label", "all": "all labels"}
ON_OFF = {"on": True, "off": False}


def interp_ends_key() -> str:
    """The session key of the Interpolate page's two ends [a, b]: one pair per model (an index of one
    model's data means nothing for another's). The page and its link parameters both use it."""
    a = runs.active()
    return f"interp.ends.{a.key if a else None}"


def _end(param: str, index: int) -> params.ListItem:
    return params.ListItem(param, interp_ends_key, integer(0, lambda lim: lim.points), index=index,
                           mirror=("interp.ia", "interp.ib")[index], implies={"interp.how": "by index"})


# The Train form's widgets are keyed by knob ("train.beta", ui.knobs); each knob it shows is also a link
# parameter of the Train page under the knob's own name (`model`, every page's, is the model explored).
TRAIN_KNOBS = tuple(name for name in KNOBS if name not in ("dataset", "model"))
TRAIN_KEPT = ("train.dataset", "train.model", "train.sweep_betas", "train.sweep_dims",
              *(f"train.{name}" for name in TRAIN_KNOBS))

PAGES: list[PageSpec] = [
    PageSpec("home", "Start here", "pages/home.py", ":material/home:", "Explore", default=True),
    PageSpec("latent", "Latent space", "pages/latent.py", ":material/scatter_plot:", "Explore",
             kept=("latent.view", "latent.prior", "latent.images", "latent.colour", "latent.side", "latent.timeline",
                   "latent.timeline.view", "latent.timeline.d0", "latent.timeline.d1"),
             params=(Param("view", "latent.view", choice(VIEW), word_of(VIEW)), *dims("latent"),
                     Param("colour", "latent.colour", choice(COLOUR)),
                     Param("timeline", "latent.timeline", choice(ON_OFF), word_of(ON_OFF)))),
    PageSpec("manifold", "Manifold", "pages/manifold.py", ":material/grid_view:", "Explore",
             kept=("manifold.n", "manifold.span", "manifold.spacing", "manifold.labels"),
             params=(*dims("manifold"), Param("n", "manifold.n", integer(3, lambda lim: 31)),
                     Param("span", "manifold.span", number(0.5, 6.0, 0.25), lambda v: f"{v:g}"),
                     Param("spacing", "manifold.spacing", choice({"linear": "linear", "quantile": "quantile"})),
                     Param("labels", "manifold.labels", choice(LABELS), word_of(LABELS)),
                     Param("label", "manifold.label", integer(0, lambda lim: lim.classes)))),
    PageSpec("interpolate", "Interpolate", "pages/interpolate.py", ":material/linear_scale:", "Explore",
             kept=("interp.how", "interp.method", "interp.frames"),
             params=(Param("path", "interp.method", choice({p: p for p in PATHS})),
                     Param("t", "interp.t", number(0.0, 1.0, 0.01), lambda v: f"{v:.2f}"),
                     _end("a", 0), _end("b", 1))),
    PageSpec("train", "Train", "pages/train.py", ":material/model_training:", "Explore", hide="train",
             kept=(*TRAIN_KEPT, "train.timeline.view", "train.timeline.d0", "train.timeline.d1"), params=tuple(params.knob(name, f"train.{name}") for name in TRAIN_KNOBS)),
    PageSpec("compare", "Compare", "pages/compare.py", ":material/compare:", "Compare", kept=("compare.timeline",)),
    PageSpec("rate_distortion", "Rate–distortion", "pages/rate_distortion.py", ":material/show_chart:", "Compare"),
    PageSpec("diagnostics", "Diagnostics", "pages/diagnostics.py", ":material/monitor_heart:", "Compare"),
    # the Concepts, in teaching order
    PageSpec("kl_direction", "Forward vs reverse KL", "pages/concepts/kl_direction.py", ":material/compare_arrows:",
             "Concepts", kept=("kl.*",)),
    PageSpec("elbo", "The ELBO is a bound", "pages/concepts/elbo.py", ":material/vertical_align_top:", "Concepts",
             kept=("elbo.i",)),
    PageSpec("reparam", "Reparameterization", "pages/concepts/reparam.py", ":material/call_split:", "Concepts",
             kept=("rep.*",)),
    PageSpec("gaussian_kl", "Gaussian KL", "pages/concepts/gaussian_kl.py", ":material/functions:", "Concepts",
             kept=("gkl.*",)),
    PageSpec("sparsity", "Sparsity", "pages/concepts/sparsity.py", ":material/blur_on:", "Concepts",
             kept=("sp.*",)),
    PageSpec("denoising", "Denoising and contraction", "pages/concepts/denoising.py", ":material/compress:",
             "Concepts", kept=("den.*",)),
]
def spec(name: str) -> PageSpec:
    """A page by its name (its url path; "" is the first screen's)."""
    return next(p for p in PAGES if (p.name == name if name else p.default))


def params_of(name: str) -> tuple[Param, ...]:
    """The link parameters of the page at url path `name` (none for a path no page has)."""
    return next((p.params for p in PAGES if (p.name == name if name else p.default)), ())


def is_kept(key: str) -> bool:
    """Whether some page keeps this widget key across navigation."""
    return any(key == k or (k.endswith(".*") and key.startswith(k[:-1])) for p in PAGES for k in p.kept)
