"""Shared fixtures: tiny configs and datasets, and one small trained digits VAE for the latent tests."""
from __future__ import annotations

import os
import sys
import tempfile

import pytest
import torch

from vae_core import Config, Trainer, load_dataset

# Two cores shared with other work: with 2 intra-op threads, OpenMP barriers wait on a descheduled
# thread and a tiny backward pass takes ~50 ms instead of ~0.1 ms. One thread keeps the suite fast.
torch.set_num_threads(1)

# The app's run store (and that of every server a browser test starts) in a folder of this test
# session's own, never the project's runs/.
os.environ["VAE_CORE_RUNS"] = tempfile.mkdtemp(prefix="vae-core-test-runs-")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that fails while app servers run (browser_support.app_process, often a module's fixture)
    says where their logs are, and they are kept."""
    report = yield
    support = sys.modules.get("browser_support")
    if report.failed and support is not None and (logs := support.running_logs()):
        report.sections.append(("app server logs", "\n".join(map(str, logs))))
    return report


@pytest.fixture(autouse=True)
def a_server_already_serving(request, monkeypatch):
    """AppTest resets Streamlit's process-wide old-pages flag before every run (`AppTest._run`), so
    each run of a page would start as a fresh server's first request and go round through app.py
    (ui/__init__.py), losing the click it carries. A real server turns the flag off for good at its
    first st.navigation; tests stand in such a server, except those marked `fresh_server`."""
    if request.node.get_closest_marker("fresh_server"):
        return
    from streamlit.runtime.pages_manager import PagesManager

    init = PagesManager.__init__

    def served(self, *args, **kwargs):
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", served)


def tiny(model: str = "vae", **changes) -> Config:
    """A small config for `model`: the registry's defaults for it, a 32-unit MLP, 3 latent dims."""
    from vae_core import MODELS

    base = {"model": model, "hidden": (32,), "latent_dim": 3, "batch_size": 64, "epochs": 1,
            **MODELS[model].defaults}
    return Config(**{**base, **changes}).validate()


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="session")
def digits_split(digits):
    """(train, val) of the 1797 digits: 1617 / 180."""
    return digits.split(0.1, 0)


@pytest.fixture(scope="session")
def trained_vae(digits_split):
    """A 64-32-4 VAE trained 15 epochs on digits: (model in eval mode, config, val set)."""
    train, val = digits_split
    cfg = Config(model="vae", hidden=(64,), latent_dim=4, batch_size=64, epochs=15, lr=3e-3)
    trainer = Trainer(cfg, train, val, device="cpu")
    for _ in trainer.run():
        pass
    return trainer.model.eval(), cfg, val
