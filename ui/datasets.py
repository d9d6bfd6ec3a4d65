"""Getting a file-based dataset from inside the app: what it is, whether its files are here, and a
button that downloads them (vae_core.data.download) with a progress bar."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from vae_core.data import SPECS, DatasetError, default_data_dir
from vae_core.data.download import download, in_place, wanted


def missing_files(name: str, data_dir: Path | None = None) -> list[str]:
    """The files of dataset `name` not yet in place (verified) under the data folder."""
    spec = SPECS[name]
    folder = (data_dir or default_data_dir()) / spec.folder
    return [f.name for f in wanted(spec) if in_place(folder, f) is None]


def download_panel(name: str, data_dir: Path | None = None) -> bool:
    """For a downloadable dataset: its source, licence and files, and a Download button with a
    progress bar. Returns True when all its files are in place (or it needs none)."""
    spec = SPECS.get(name)
    if spec is None or spec.built_in:
        return True
    data_dir = data_dir or default_data_dir()
    missing = missing_files(name, data_dir)
    if not missing:
        return True
    st.info(f"**{name}** is not on this machine yet: {spec.source} ({spec.licence}). "
            f"{len(missing)} file(s) to fetch into `{data_dir / spec.folder}`; each is checked against its "
            f"published md5 before it is used.")
    if not st.button(f"Download {name}", key=f"datasets.download.{name}"):
        return False
    bar = st.progress(0.0, text=f"Downloading {name}…")
    files = [f.name for f in wanted(spec)]

    def progress(file: str, done: int, total: int | None) -> None:
        k = files.index(file) if file in files else 0  # CIFAR-10: one archive stands for all its files
        part = done / total if total else 0.0
        bar.progress(min(1.0, (k + part) / len(files)),
                     text=f"{file}: {done / 2**20:.1f}" + (f" of {total / 2**20:.1f} MB" if total else " MB"))

    try:
        download(name, dest=data_dir, progress=progress)
    except DatasetError as e:
        bar.empty()
        st.error("Download failed; nothing half-written was kept.\n\n" +
                 "\n\n".join(f"- {line}" for line in str(e).splitlines()))
        return False
    bar.progress(1.0, text=f"{name}: all files in place and verified")
    return True
