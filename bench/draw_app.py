"""The page bench_draw.py measures: the drawing pad beside a latent map of random codes (bench/hover_app.py's
page), for untrained MNIST-sized models (784-400-2 and 784-400-16) that need no dataset. `streamlit run` it."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import hover_app  # noqa: E402
from ui import decoder  # noqa: E402
from vae_core import drawing  # noqa: E402


def pad(a, name: str) -> None:
    A = np.zeros((2, hover_app.LATENT[name]))
    A[0, 0] = A[1, 1] = 1
    header = {"rule": drawing.rule_for("mnist10k", (1, 28, 28)).header(), "chart": "bench.map", "sigma": 0.1,
              "projection": {"A": A.tolist(), "b": [0.0, 0.0]}, "drawing": None, "neighbours": None, "pins": []}
    decoder.pad(a.key, a.model, header, lambda: None, key="bench.pad")


hover_app.main("draw bench", pad)
