"""`python -m vae_core.evaluate`: the evaluation command line, kept at this name; it is
vae_core/cli/evaluate.py (the metrics themselves are vae_core.metrics)."""
import sys

from .cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
