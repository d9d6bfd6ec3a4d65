"""The page bench_timeline.py measures: one run's timeline (the checkpoint at $BENCH_TIMELINE), alone on
the page. `BENCH_TIMELINE=run.safetensors streamlit run bench/timeline_app.py`."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st  # noqa: E402

from ui import timeline  # noqa: E402
from vae_core import checkpoint  # noqa: E402


@st.cache_resource
def run():
    return checkpoint.load(os.environ["BENCH_TIMELINE"])


st.title("Timeline bench")
timeline.mount([timeline.Track("bench", "bench run", run())], key="bench.timeline")
