"""Compare: two to four runs side by side on the same examples, the same prior codes, one loss axis."""
import numpy as np
import streamlit as st

from ui import compare, own_data, page, picture, run_app_first, runs, screen, timeline
from vae_core.compare import aligned_history, decode_prior, example_indices
from vae_core.latent import reconstruct

TRIO = ["zoo.digits-trio-ae", "zoo.digits-trio-vae", "zoo.digits-trio-kl"]
SEL = "compare.selected"      # the shared selection: indices into compare_data, the same in every map
CHOSEN = "compare.chosen"     # the runs compared, kept across page visits
SHOWN = 8                     # inputs reconstructed / prior samples decoded per model, over its map

run_app_first()
page.header(
    "Two to four models on **the same examples**. Their latent maps use the same colour for each class; "
    "**box- or lasso-select** points in one map and the same examples are ringed in the others. Over the maps: "
    "the same inputs reconstructed by each model and the same prior codes z ~ N(0, I) decoded by each; below, "
    "their validation losses on one axis. The shipped trio makes the theory's argument: an **autoencoder** (reconstruction only) "
    "sorts the digits but leaves holes, so decoding from the prior shows what lives in its holes; a **VAE** "
    "(reconstruction + KL) fills the prior with digits; a model trained on the **KL term alone** puts every "
    "example on the prior, so its code says nothing and it rebuilds nothing.")

usable = {r.id: r for r in runs.all_runs() if r.readonly or r.status == "done"}
default = st.session_state.get(CHOSEN) or [i for i in TRIO if i in usable]
described = {i: f"{r.name} · {runs.describe_run(r)}" for i, r in usable.items()}
with st.expander(f"Runs compared: {len([i for i in default if i in usable])} (choose 2 to 4)", icon=":material/tune:"):
    chosen = st.multiselect("Runs to compare (2 to 4)", list(usable), [i for i in default if i in usable],
                            max_selections=4, key="compare.runs",
                            format_func=described.get)
st.session_state[CHOSEN] = chosen
if len(chosen) < 2:
    st.info("Pick at least two runs to compare.")
    st.stop()
datasets = {usable[i].config.dataset for i in chosen}
if len(datasets) > 1:
    names = sorted({runs.dataset_label(usable[i].config.dataset, i) for i in chosen})
    st.warning(f"These runs were trained on different data ({', '.join(names)}): comparing needs the "
               "same examples for every model. Pick runs of one dataset.")
    st.stop()
dataset = datasets.pop()
folder = own_data.folder(chosen[0], dataset)  # a workspace's own dataset: read from its (first run's) workspace
models = {}
ws = runs.workspace()
for i in chosen:
    got = runs.latest_model(i)
    if got is None:
        st.warning(f"{usable[i].name} has no model to load yet; it is left out.")
        continue
    models[i] = got
if len(models) < 2:
    st.stop()
try:
    data = compare.compare_data(dataset, folder)
except (ValueError, OSError) as e:
    st.error(f"Cannot load `{runs.dataset_label(dataset, chosen[0])}` here: {e}")
    st.stop()


def on_select(key: str) -> None:
    """A selection in one map becomes the shared selection (dataset indices in customdata)."""
    points = (st.session_state.get(key) or {}).get("selection", {}).get("points", [])
    st.session_state[SEL] = sorted({int(np.ravel(p["customdata"])[0]) for p in points if "customdata" in p})


selected = st.session_state.get(SEL, [])
if data.is_image:  # the same inputs for every model: the first selected, else fixed ones
    shown = np.asarray(selected[:SHOWN]) if selected else example_indices(len(data), SHOWN, seed=1)
    x, y = data.x[shown], data.y[shown]
# One column per model: (images) the same inputs over its reconstructions and the same prior codes decoded,
# then its map: the pictures side by side in the first screen (also in presentation mode), each model's
# over its own map.
for col, (i, (ckpt, model)) in zip(st.columns(len(models)), models.items()):
    mu = compare.codes(ws.checkpoint_stamp(i), i, dataset, folder)
    xy, names = compare.in_two_dims(mu)
    key = f"compare.map.{i}"
    with col:
        st.markdown(f"**{usable[i].name}**")
        if data.is_image:
            recon = reconstruct(model, x, y if model.n_cond else None).cpu().numpy()
            picture.show(np.concatenate([x.numpy(), recon]), "inputs (top) · reconstructions", cols=SHOWN, size=28,
                         download=False)  # (strips of 8: no button each, so that the maps follow closely)
            y0 = data.y[:SHOWN] if model.n_cond else None
            picture.show(decode_prior(model, SHOWN, seed=0, y=y0).cpu().numpy(), "the same z ~ N(0, I), decoded",
                         cols=SHOWN, size=28, download=False)
        screen.chart(compare.compare_map(xy, data, names, selected), key=key,
                     on_select=lambda k=key: on_select(k), selection_mode=("box", "lasso"))
st.caption(f"{len(data)} examples of {runs.dataset_label(dataset, chosen[0])}, the same for every model"
           + (f"; **{len(selected)} selected**, ringed in every map" if selected else "")
           + ". Each map has its own axes (a KL-only model's codes all sit within a hair of 0, the prior's "
             "mean). Latents with more than 2 dims are shown by PCA of their codes. A select tool is on by default: "
             "drag a box (double-click empties the selection)."
           + (f" Over each map: {'the first selected' if selected else 'eight fixed'} inputs and that model's "
              "reconstructions, then the same eight draws from the standard normal decoded by each (models with "
              "more latent dims get the same values in their first dims). A VAE was trained so that these codes "
              "mean digits; a plain autoencoder never was, so its decodings show what lives in the holes of its "
              "code space." if data.is_image else ""))
if selected and st.button("Clear the selection", key="compare.clear"):
    st.session_state[SEL] = []
    st.rerun()

st.subheader("Loss curves")
term = st.radio("Term", ("loss", "recon", "kl"), horizontal=True, key="compare.term",
                help="Each model's validation value at each epoch end. Note that 'loss' is what each model "
                     "optimised: recon for an AE, recon + β·KL for a VAE, KL alone for the KL-only model.")
curves = {usable[i].name: aligned_history(ckpt.history, term) for i, (ckpt, _) in models.items()}
curves = {k: v for k, v in curves.items() if len(v[0])}
if curves:
    screen.chart(compare.history_figure(curves, term), key="compare.curves")
else:
    st.info(f"None of these checkpoints recorded a validation {term}.")

timeline.side_by_side([(i, usable[i].name, ckpt) for i, (ckpt, _) in models.items()])  # their training, synced by epoch
