"""Your data: upload a dataset, choose how it is converted, preview it, add it to this workspace; and
the datasets this workspace holds (train on one, delete one)."""
from dataclasses import fields

import streamlit as st

from ui import compare, knobs, messages, own_data, page, run_app_first, runs, sitemap, views, widgets
from vae_core.config import KNOBS
from vae_core.data import DatasetError, own
from vae_core.data.own.limits import MAX_BYTES, MAX_EXAMPLES, MAX_INPUT_BYTES, MAX_SIDE, count, mb
from vae_core.runs import LIVE, RunStoreError, key_of

CONVERTED = "data.converted"  # (what was converted: file ids and options, the Converted or None, the refusal)
ROUND = "data.round"          # bumped when a dataset is added: a fresh upload box (the old files are let go)
# how each option's choices read in the page (the choices and their help: own.Options, declared once)
SHOWN = {"size": {"kept": f"kept (at most {MAX_SIDE} px a side)", "28": "28 x 28", "32": "32 x 32"},
         "invert": {"auto": "auto (when the background is light)"}}
LABEL = {"invert": "invert a light background"}

run_app_first()
upload_mb = int(st.get_option("server.maxUploadSize"))
page.header(
    "Bring your own data, train any model on it and explore it on every page. **Formats**: a `.zip` of PNG or JPEG "
    "images (labels from their sub-folder names, when they are in sub-folders), a `.npz` or `.npy` array (uint8 or "
    "float, N x H x W or N x H x W x C; labels in `y`; never unpickled), IDX files (`.gz` or raw: the images file "
    "and its labels file together), or a `.csv` of points (numeric columns, an optional `label` column). "
    f"**Limits**: {MAX_EXAMPLES:,} examples, {MAX_BYTES // 2**20} MB after conversion, {MAX_INPUT_BYTES / 2**30:g} GB "
    "of input "
    f"uncompressed, {upload_mb:,} MB a file uploaded; images kept at their own size are at most {MAX_SIDE} px a side "
    "(larger ones are resized, and the notes say so). The data are converted here, shown, and kept only when you "
    "add them: they belong to this workspace (no other sees them) and count against its space.")


def _options() -> own.Options:
    """The conversion's options, one input per field of own.Options (its choices and help)."""
    chosen = {}
    for col, f in zip(st.columns(len(fields(own.Options))), fields(own.Options)):
        choices, shown = f.metadata["choices"], SHOWN.get(f.name, {})
        chosen[f.name] = col.selectbox(LABEL.get(f.name, f.name), choices, widgets.kept_index(choices, f"data.{f.name}",
                                       f.default), format_func=lambda c, shown=shown: shown.get(c, c),
                                       help=f.metadata["help"], key=f"data.{f.name}")
    return own.Options(**chosen)


def _convert(files, options: own.Options):
    """The uploaded files converted with `options`, behind a progress bar, once per files and options:
    -> (Converted or None, the refusal or None)."""
    what = (tuple(f.file_id for f in files), options)
    got = st.session_state.get(CONVERTED)
    if got is None or got[0] != what:
        bar = st.progress(0.0, text="Reading the files…")
        try:
            conv = own.from_files([(f.name, f.getvalue()) for f in files], options,
                                  progress=lambda done, doing: bar.progress(min(1.0, done),
                                                                            text=f"{doing.capitalize()}: {100 * done:.0f}%"))
            got = (what, conv, None)
        except (DatasetError, OSError) as e:  # DataRefused: 'FILE: reason'
            got = (what, None, str(e))
        bar.empty()
        st.session_state[CONVERTED] = got
    return got[1], got[2]


def _add(name_key: str) -> None:
    conv = st.session_state[CONVERTED][1]
    try:
        info = runs.workspace().add_dataset(st.session_state.get(name_key) or "my data", conv)
    except (RunStoreError, DatasetError) as e:
        messages.say("data", "error", f"Not added: {e}")
        return
    st.session_state.pop(CONVERTED, None)
    st.session_state[ROUND] = st.session_state.get(ROUND, 0) + 1  # the upload box starts empty again
    _train_on(info.dataset)
    messages.say("data", "success", f"Added **{own_data.plain(info.name)}** ({count(info.count, 'example')}) to this "
                                    "workspace. The Train page's dataset is set to it.")


def _train_on(dataset: str) -> None:
    """Make `dataset` the Train form's dataset (and its likelihood the one that suits it)."""
    widgets.put(knobs.key("dataset"), dataset)
    knobs.reset_for_dataset()


def _delete(dataset_id: str) -> None:
    ws = runs.workspace()
    try:
        name = ws.dataset(dataset_id).name
        ws.delete_dataset(dataset_id)
    except RunStoreError as e:
        messages.say("datasets", "error", f"Not deleted: {e}")
        return
    for cached in (views.split, compare.compare_data):  # its copies in memory go too
        cached.clear()
    messages.say("datasets", "success", f"Deleted {own_data.plain(name)}.")


def upload_section() -> None:
    n = st.session_state.get(ROUND, 0)
    files = st.file_uploader("Dataset files: a .zip of images, .npz / .npy, IDX (.gz or raw) or .csv",
                             accept_multiple_files=True, key=f"data.upload.{n}",
                             help=f"Up to {upload_mb:,} MB a file. Several files are read as one dataset (IDX images "
                                  "and labels; a folder's worth of images).")
    options = _options()
    val = KNOBS["val_fraction"]
    st.caption(f"The validation fraction is not chosen here: it is the Train form's **{val.title}** "
               f"({val.range_text()}, now {widgets.kept(knobs.key('val_fraction'), val.format(val.default))}), "
               "set for each run, so one dataset can be split in different ways. Size, colour and invert apply to "
               "images; points are scaled column by column.")
    messages.show("data")
    if not files:
        st.session_state.pop(CONVERTED, None)  # (files let go: so is their conversion)
        return
    conv, refused = _convert(files, options)
    if refused:
        st.error(f"**Refused; nothing was kept.** {own_data.plain(refused)}", icon=":material/block:")
        return
    st.subheader("Preview")
    own_data.preview(conv)
    c = st.columns([3, 2])
    name_key = f"data.name.{n}.{files[0].file_id}"
    c[0].text_input("Name", own.file_stem(files[0].name) if len(files) == 1 else "my data", key=name_key,
                    max_chars=80, help="how the pages and the Train form name it")
    c[1].button("Add to this workspace", type="primary", key="data.add", on_click=_add, args=(name_key,),
                icon=":material/add:", width="stretch")


def datasets_section() -> None:
    ws = runs.workspace()
    infos = ws.datasets()
    st.subheader("This workspace's datasets")
    messages.show("datasets")
    if not infos:
        st.caption("None yet: the ones you add are listed here, and offered by the Train form's dataset box.")
        return
    all_runs = ws.runs()
    for info in infos:
        users = [r for r in all_runs if key_of(r.config.dataset) == info.id]
        busy = [r.name for r in users if r.status in LIVE]
        with st.container(border=True):
            st.markdown(f"**{own_data.plain(info.name)}** · {count(info.count, 'example')} · "
                        f"{own.describe(info.report['converted'])} · "
                        + (count(len(info.labels), "label") if info.labels else "no labels")
                        + f" · {mb(info.bytes)}"
                        + (f"  \nused by {', '.join(own_data.plain(r.name) for r in users)}" if users else ""))
            c = st.columns([1, 1, 1, 3])
            if c[0].button("Train on it", key=f"data.train.{info.id}", icon=":material/model_training:",
                           width="stretch"):
                _train_on(info.dataset)
                st.switch_page(sitemap.spec("train").target)
            show = c[1].toggle("Preview", key=f"data.show.{info.id}")
            with c[2].popover("Delete", icon=":material/delete:", width="stretch"):
                if busy:
                    st.warning(f"{own_data.plain(', '.join(busy))} still training on it: stop it first.")
                st.markdown(f"Delete **{own_data.plain(info.name)}** for good? The runs trained on it stay, but "
                            "cannot be explored without their data.")
                st.button("Delete", type="primary", key=f"data.delete.{info.id}", on_click=_delete, args=(info.id,))
            if show:
                own_data.preview(own.load(info.dataset, ws.folder), key=f"data.preview.{info.id}", on_disk=info.bytes)


upload_section()
st.divider()
datasets_section()
