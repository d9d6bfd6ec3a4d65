"""`python -m vae_core.train`: the training command line, kept at this name; it is vae_core/cli/train.py
(the training loop itself is vae_core.trainer)."""
import sys

from .cli.train import main

if __name__ == "__main__":
    sys.exit(main())
