"""`python -m vae_core.export`: a run's history as CSV, TensorBoard events and its card, and the command
that trains it again; it is vae_core/cli/export.py (the formats: vae_core.history, vae_core.runcard)."""
import sys

from .cli.export import main

if __name__ == "__main__":
    sys.exit(main())
