"""Datasets: one container (`Dataset`) and one entry point (`load_dataset(name)`)."""
from .dataset import Dataset, DatasetError
from .registry import DATASETS, EMBEDDED, default_data_dir, load_dataset, load_digits
from .toy2d import TOY_SHAPES

__all__ = ["Dataset", "DatasetError", "DATASETS", "EMBEDDED", "TOY_SHAPES", "default_data_dir", "load_dataset",
           "load_digits"]
