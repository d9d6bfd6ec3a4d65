"""The one registry: model name -> its parts and loss. Adding a model is one entry.

The UI fills its model picker from `MODELS`, the CLI its `--model` choices, the tests their
parametrisation; nothing else branches on a model's name. A name is checked where a model is looked
up (`spec_of`), as a dataset's is (vae_core.data.spec_of): the config does not import this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import losses


def _never(cfg) -> bool:
    return False


@dataclass(frozen=True)
class ModelSpec:
    label: str                        # shown in the UI
    loss: Callable                    # (model, x, y, cfg, beta) -> named terms
    about: str                        # one plain sentence, with the objective
    variational: bool = False         # encoder outputs (mu, logvar); z is sampled
    conditional: bool = False         # encoder and decoder see the one-hot label
    sigmoid_code: Callable = _never   # cfg -> whether the code goes through a sigmoid
    knobs: tuple[str, ...] = ()       # the Config fields this variant reads
    defaults: dict = field(default_factory=dict)  # Config overrides when this model is picked


MODELS: dict[str, ModelSpec] = {
    "ae": ModelSpec(
        "Autoencoder", losses.ae_loss,
        "An undercomplete autoencoder: squeeze x through a small code z and rebuild it. "
        "Loss = -log p(x | z)."),
    "dae": ModelSpec(
        "Denoising AE", losses.dae_loss,
        "Corrupt the input, rebuild the clean one: the code must capture structure, not pixels. "
        "Loss = -log p(x | f(x~)).",
        knobs=("corruption", "noise")),
    "sparse_ae": ModelSpec(
        "Sparse AE", losses.sparse_loss,
        "Penalise the code's activity: lambda * sum|a| (l1), or beta_s * sum_j KL(rho || rho_hat_j) "
        "over sigmoid units (kl).",
        sigmoid_code=lambda cfg: cfg.sparsity == "kl",
        knobs=("sparsity", "sparsity_weight", "rho")),
    "contractive_ae": ModelSpec(
        "Contractive AE", losses.contractive_loss,
        "Penalise how fast the code moves with the input: lambda * ||dz/dx||_F^2.",
        knobs=("contractive_weight",)),
    "vae": ModelSpec(
        "VAE", losses.vae_loss,
        "A Gaussian encoder q(z|x) = N(mu, sigma^2), a standard normal prior, trained on the "
        "negative ELBO: -E_q[log p(x|z)] + KL(q(z|x) || p(z)).",
        variational=True, knobs=("beta", "kl_warmup"), defaults={"beta": 1.0}),
    "beta_vae": ModelSpec(
        "beta-VAE", losses.vae_loss,
        "A VAE whose KL term is weighted by beta: beta > 1 buys disentangling with blur, "
        "beta < 1 sharper images and a less regular latent space (Higgins et al. 2017).",
        variational=True, knobs=("beta", "kl_warmup"), defaults={"beta": 4.0}),
    "cvae": ModelSpec(
        "Conditional VAE", losses.vae_loss,
        "A VAE whose encoder and decoder both see the class label: z is free to hold style.",
        variational=True, conditional=True, knobs=("beta", "kl_warmup"), defaults={"beta": 1.0}),
    "kl_only": ModelSpec(
        "KL term only", losses.kl_only_loss,
        "A VAE trained on the KL term alone: loss = KL(q(z|x) || N(0, I)), the reconstruction is "
        "only reported. Every q(z|x) collapses onto the prior, so z says nothing about x.",
        variational=True),
}


def spec_of(name: str) -> ModelSpec:
    """The registry entry of a model name; ValueError naming the choices if there is none."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None
