"""Train: pick a model and its knobs, press Start, and watch it learn (in the background)."""
import numpy as np
import streamlit as st

from ui import picture, plots, state
from vae_core.config import CORRUPTIONS, LIKELIHOODS, PRECISIONS, SPARSITIES, Config, parse_hidden
from vae_core.data import DATASETS, TOY_SHAPES
from vae_core.jobs import TrainingJob
from vae_core.registry import MODELS

st.title("Train")
st.markdown(
    "Choose a dataset and a model, set its knobs and press **Start**. Training runs in the background: "
    "you can leave this page and come back. The curves show the loss terms in nats per example: "
    "**recon** = −log p(x|z), how well x is rebuilt; **kl** = KL(q(z|x) ‖ p(z)), what the code costs "
    "(VAE family: loss = recon + β·kl); **penalty** = the sparse / contractive regulariser. "
    "Try β = 0.1 versus β = 4 on the same data, or a latent_dim of 2 to watch the map form.")

JOB = "train.job"
# defaults from this session's last visit: Streamlit forgets a widget's value on a page switch
kept, _at = state.kept, state.kept_index

job: TrainingJob | None = st.session_state.get(JOB)
running = job is not None and not job.view.finished

DATASET_CHOICES = [d for d in DATASETS if d != "toy2d"] + [f"toy2d:{s}" for s in TOY_SHAPES]
# widgets for the variant knobs a registry entry lists (beta and kl_warmup have their own)
KNOBS = {
    "corruption": lambda c: c.selectbox("corruption", list(CORRUPTIONS), _at(list(CORRUPTIONS), "train.corruption", "gaussian"), key="train.corruption"),
    "noise": lambda c: c.slider("noise (std or fraction)", 0.0, 0.9, kept("train.noise", 0.3), 0.05, key="train.noise"),
    "sparsity": lambda c: c.selectbox("sparsity penalty", SPARSITIES, _at(SPARSITIES, "train.sparsity", "kl"), key="train.sparsity"),
    "sparsity_weight": lambda c: c.number_input("penalty weight (λ or β_s)", 0.0, 100.0, kept("train.sw", 0.1), key="train.sw"),
    "rho": lambda c: c.slider("target activation ρ", 0.01, 0.5, kept("train.rho", 0.05), 0.01, key="train.rho"),
    "contractive_weight": lambda c: c.number_input("contraction weight λ", 0.0, 100.0, kept("train.cw", 0.01), format="%.4f",
                                                          key="train.cw"),
}

with st.container(border=True):
    c = st.columns(4)
    dataset = c[0].selectbox("dataset", DATASET_CHOICES, _at(DATASET_CHOICES, "train.dataset", "digits"), key="train.dataset", disabled=running,
                             help=" · ".join(f"{k}: {v}" for k, v in DATASETS.items()))
    model = c[1].selectbox("model", list(MODELS), _at(list(MODELS), "train.model", "vae"), format_func=lambda m: MODELS[m].label, key="train.model",
                           disabled=running)
    latent_dim = c[2].number_input("latent_dim", 1, 256, kept("train.latent_dim", 2), key="train.latent_dim", disabled=running)
    likelihood = c[3].selectbox("likelihood", LIKELIHOODS,
                                _at(LIKELIHOODS, f"train.likelihood.{dataset}", "gaussian" if dataset.startswith("toy2d") else "bernoulli"),
                                key=f"train.likelihood.{dataset}", disabled=running,
                                help="bernoulli: BCE on logits (pixels in [0, 1]); gaussian: MSE with fixed σ")
    spec = MODELS[model]
    st.caption(spec.about)
    c = st.columns(4)
    arch = c[0].selectbox("architecture", ["mlp", "conv"], _at(["mlp", "conv"], "train.arch", "mlp"), key="train.arch", disabled=running,
                          help="conv needs images whose side divides by 2^(number of layers)")
    hidden = c[1].text_input("hidden sizes", kept(f"train.hidden.{arch}", "400" if arch == "mlp" else "32,64"),
                             key=f"train.hidden.{arch}",
                             disabled=running, help="MLP: widths, e.g. 400 or 512,256; conv: channels, e.g. 32,64")
    epochs = c[2].number_input("epochs", 1, 1000, kept("train.epochs", 20), key="train.epochs", disabled=running)
    batch_size = c[3].number_input("batch size", 1, 4096, kept("train.batch", 128), key="train.batch", disabled=running)
    c = st.columns(5)
    lr = c[0].number_input("learning rate", 1e-5, 1.0, kept("train.lr", 1e-3), format="%.4f", key="train.lr", disabled=running)
    seed = c[1].number_input("seed", 0, 2**31 - 1, kept("train.seed", 0), key="train.seed", disabled=running)
    precision = c[2].selectbox("precision", PRECISIONS, _at(PRECISIONS, "train.precision", "fp32"), key="train.precision", disabled=running,
                               help="bf16: mixed precision (matmuls in bfloat16), faster on recent CPUs and GPUs")
    knobs = {}
    if spec.variational:
        knobs["beta"] = c[3].number_input("β (KL weight)", 0.0, 100.0, kept(f"train.beta.{model}", float(spec.defaults.get("beta", 1.0))), 0.1,
                                          key=f"train.beta.{model}", disabled=running)
        knobs["kl_warmup"] = c[4].number_input("KL warm-up (steps)", 0, 100_000, kept("train.warmup", 0), key="train.warmup",
                                               disabled=running, help="β ramps linearly from 0 over this many steps")
    extra = [k for k in spec.knobs if k in KNOBS]
    if extra:
        cols = st.columns(len(extra))
        for col, k in zip(cols, extra):
            knobs[k] = KNOBS[k](col)

    b = st.columns([1, 1, 4])
    start = b[0].button("Start", type="primary", disabled=running, key="train.start", width="stretch")
    stop = b[1].button("Stop", disabled=not running, key="train.stop", width="stretch")

if start:
    try:
        cfg = Config(dataset=dataset, model=model, arch=arch, hidden=parse_hidden(hidden), latent_dim=int(latent_dim),
                     likelihood=likelihood, epochs=int(epochs), batch_size=int(batch_size), lr=float(lr),
                     precision=precision, seed=int(seed), **knobs).validate()
        st.session_state[JOB] = TrainingJob(cfg, device=state.device()).start()
        st.session_state["train.registered"] = False
        st.rerun()
    except ValueError as e:
        st.error(f"Cannot start: {e}")
if stop and job is not None:
    job.stop()


@st.fragment(run_every=0.7)
def live() -> None:
    job: TrainingJob | None = st.session_state.get(JOB)
    if job is None:
        st.info("No training yet in this session. The sidebar's pretrained models are ready to explore meanwhile.")
        return
    v = job.view
    cfg = job.cfg
    if v.status == "failed":
        st.error(v.message)
    text = {"starting": "loading data…", "running": "training", "done": "done", "stopped": "stopped",
            "failed": "failed"}[v.status]
    st.progress(v.fraction, text=f"{text} · step {v.step}/{v.total_steps} · epoch {v.epoch}/{v.epochs}"
                                 f" · {v.images_per_s:,.0f} images/s · {v.device}")
    if v.finished and job.checkpoint is not None and not st.session_state.get("train.registered"):
        st.session_state["train.registered"] = True
        n = sum(1 for i in state.library().values() if i.origin == "trained") + 1
        state.add(job.checkpoint, f"#{n} {MODELS[cfg.model].label} · {cfg.dataset} · {cfg.latent_dim}-D", "trained")
        st.rerun()  # the whole app, so the sidebar shows the new active model
    if MODELS[cfg.model].variational and not v.finished:
        new = st.slider("β while training", 0.0, 10.0, float(job.cfg.beta), 0.1, key=f"train.live_beta.{id(job)}",
                        help="applied from the next step; the curves show the effect")
        if abs(new - job.beta) > 1e-9:
            job.set_beta(new)
    if not v.history:
        return
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(plots.curves(v.history, v.val), key="train.curves")
        if "kl_per_dim" in v.val and v.val["kl_per_dim"]:
            st.plotly_chart(plots.kl_bars(v.val["kl_per_dim"][-1]), key="train.kl")
    with right:
        if v.originals is not None and v.recons is not None and len(np.shape(v.originals)) == 4:
            picture.show(np.concatenate([v.originals, v.recons]), cols=len(v.originals), size=48,
                         caption="validation examples (top) and their reconstructions now (bottom)")
            if MODELS[cfg.model].variational:
                picture.show(v.samples, "decoded samples z ~ N(0, I), the same z each time", size=48)
        if v.latent is not None:
            fig = plots.latent_map(v.latent, v.labels, v.class_names, height=340, size=4,
                                   title="2-D latent map (validation), live")
            st.plotly_chart(fig, key="train.map")


live()
