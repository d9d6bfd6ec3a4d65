"""vae_core: autoencoders and VAEs of the theory, trained fast, saved safely, explored through small
pure functions. Never imports streamlit; the app and the CLI are both thin layers over it."""
from .checkpoint import Checkpoint, CheckpointError
from .config import Config
from .data import DATASETS, Dataset, DatasetError, load_dataset
from .device import pick_device
from .registry import MODELS
from .trainer import Report, Trainer, TrainingDiverged

__all__ = ["Checkpoint", "CheckpointError", "Config", "DATASETS", "Dataset", "DatasetError", "load_dataset",
           "pick_device", "MODELS", "Report", "Trainer", "TrainingDiverged"]
