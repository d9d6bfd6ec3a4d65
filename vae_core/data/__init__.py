"""Datasets: one container (`Dataset`), one registry (`SPECS`), and the entry points `load_dataset(name)`
and `load_split(cfg)`. `python -m vae_core.data download NAME` fetches the file-based ones; a user's
own data (vae_core.data.own) is read, converted and checked by `python -m vae_core.data inspect PATH`."""
from .dataset import Dataset, DatasetError
from .embedded import load_digits, load_mnist10k
from .registry import (DATASETS, DOWNLOADABLE, EMBEDDED, SPECS, DatasetSpec, Remote, default_data_dir, load_dataset,
                       load_split, pin_split, spec_of)
from .toy2d import TOY_SHAPES

__all__ = ["Dataset", "DatasetError", "DATASETS", "DOWNLOADABLE", "EMBEDDED", "SPECS", "DatasetSpec", "Remote",
           "TOY_SHAPES", "default_data_dir", "load_dataset", "load_digits", "load_mnist10k", "load_split", "pin_split",
           "spec_of"]
