"""Rate–distortion: every run on one dataset and likelihood as a point, KL (rate) against reconstruction (distortion)."""
import streamlit as st

from ui import compare, page, picture, run_app_first, runs, screen
from vae_core.compare import decode_prior, rd_point, settings_of
from vae_core.registry import MODELS

PRIOR_SHOWN = 16
CHART = "rd.chart"

run_app_first()
page.header(
    "A VAE pays for each example twice. The **rate** is KL(q(z|x) ‖ p(z)), how many nats the code z says about "
    "this x beyond the prior; the **distortion** is −log p(x|z), how badly x is rebuilt from that code. Their sum is "
    "the negative ELBO. A β-VAE minimises distortion + β × rate, so β sets the price of a nat of rate: a large β "
    "buys a small rate with a blurry reconstruction (up and left), a small β the reverse (down and right). "
    "The faint dotted lines join models of **equal ELBO**; points on a lower line have the better ELBO. "
    "**Click a point** to make that model the active one and see what it draws from the prior.")


def on_pick() -> None:
    """A click on a point: its run becomes the active model (before the sidebar is drawn again)."""
    points = (st.session_state.get(CHART) or {}).get("selection", {}).get("points", [])
    ids = [p["customdata"][0] for p in points if p.get("customdata")]
    if ids:
        runs.activate(ids[0])


all_runs = [r for r in runs.all_runs() if r.status == "done" or r.readonly]
planes: dict[tuple[str, str], list] = {}
for run in all_runs:
    p = rd_point(run.id, run.name, run.metrics, run.config.beta, run.config.latent_dim, run.group or None,
                 MODELS[run.config.model].label, settings_of(run.config))
    if p is not None:
        planes.setdefault((run.config.dataset, run.config.likelihood), []).append(p)
if not planes:
    st.info("No finished VAE-family run has validation metrics yet: train one on the **Train** page.")
    st.stop()

options = sorted(planes, key=lambda k: (-len(planes[k]), k))
shown = {k: f"{runs.dataset_label(k[0], planes[k][0].run_id)} · {k[1]} likelihood ({len(planes[k])} models)" for k in options}
plane = st.selectbox("Dataset and likelihood", options, key="rd.plane",
                     format_func=shown.get,
                     help="Rates and distortions compare only on the same data with the same likelihood.")
points = planes[plane]
units = {p.run_id: compare.active_units_of(next(r for r in all_runs if r.id == p.run_id)) for p in points}
active = runs.active()
active_id = active.run.id if active is not None else None

left, right = st.columns([3, 2])
with left:
    screen.chart(compare.rd_figure(points, units, active_id), key=CHART, on_select=on_pick,
                    selection_mode="points")
    st.caption("Rate and distortion are validation means in nats per example. Lines join the members of one sweep "
               "that share every setting but β, in β order, and are named by the settings that tell them apart. The active model is the star. Hover a point for its β, latent_dim and active units "
               "(dims whose mean code varies over the data by more than 0.01, Burda et al. 2015).")
with right:
    if active is None:
        st.info("Click a point to pick a model.")
    else:
        st.markdown(f"**Active: {active.run.name}**")
        if active.cfg.dataset != plane[0] or active.model.n_cond:
            st.caption("The active model is not on this plane (or needs a label): click a point to pick one here.")
        else:
            images = decode_prior(active.model, PRIOR_SHOWN, seed=0).cpu().numpy()
            if images.ndim == 4:  # (n, C, H, W): pictures; toy 2-D points have no picture
                picture.show(images, "decoded z ~ N(0, I), the same 16 codes for every model", cols=8, size=48)
            st.caption("With a large β the rate is small: few dims are used, the samples are blurred averages. "
                       "With a small β the samples are sharper, but the prior has holes the decoder never saw.")
