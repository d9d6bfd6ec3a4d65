"""Watch it learn: every run keeps the history of its latent space (its timeline).

    snapshots   Timeline: what one run kept (codes, reconstructions, per-dim KL, terms, β per snapshot); project
    recorder    Recorder: which steps, and taking a snapshot (the trainer calls it); the size limits
    stored      the timeline in the checkpoint file: tensors plus one JSON entry, checked on reading
    web         what the page's timeline (ui/timeline) is sent, once per run
    frames      the timeline as pictures: PNG frames and an animated GIF
"""
from .recorder import MAX_BYTES, MAX_SNAPSHOTS, N_SHOWN, SUBSET, Recorder, last_terms
from .snapshots import Timeline, project

__all__ = ["MAX_BYTES", "MAX_SNAPSHOTS", "N_SHOWN", "SUBSET", "Recorder", "Timeline", "last_terms", "project"]
