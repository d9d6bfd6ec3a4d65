"""The page bench_hover.py measures: a latent map of random codes and the in-page decoder beside it, for
untrained MNIST-sized models (784-400-2 and 784-400-16) that need no dataset. `streamlit run` it."""
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402
import torch  # noqa: E402

from ui import decoder, plots  # noqa: E402
from vae_core import Config  # noqa: E402
from vae_core.models import Autoencoder  # noqa: E402

LATENT = {"784-400-2": 2, "784-400-16": 16}


@st.cache_resource
def model(name: str) -> SimpleNamespace:
    """Untrained, seeded: what is measured is decoding speed and bytes, not what it draws."""
    torch.manual_seed(0)
    m = Autoencoder(Config(hidden=(400,), latent_dim=LATENT[name]), (1, 28, 28), 10).eval()
    return SimpleNamespace(key=f"bench-{name}", model=m)


@st.cache_data
def codes(n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n)
    centres = 1.8 * np.stack([np.cos(labels * 0.63), np.sin(labels * 0.63)], 1)
    return centres + 0.35 * rng.normal(size=(n, 2)), labels


def main(title: str = "hover bench", beside=lambda a, name: decoder.hover(a, "bench.map", (0, 1), key="bench.decoder")):
    """The page: `beside(a, name)` draws what is measured beside the map (bench/draw_app.py: the pad)."""
    st.set_page_config(page_title=title, layout="wide")
    name = st.selectbox("Model", list(LATENT), key="bench.model")
    a = model(name)
    xy, labels = codes()
    left, right = st.columns([3, 2])
    with right:
        beside(a, name)
    with left:
        fig = plots.latent_map(xy, labels, [str(k) for k in range(10)], title=f"{name}: random codes")
        st.plotly_chart(fig, key="bench.map")


if __name__ == "__main__":  # streamlit runs it so; bench/draw_app.py imports its models
    main()
