"""Encoder / decoder parts and the one Autoencoder that every registry model is built from.

A plain AE's encoder outputs the code z; a VAE's outputs (mu, logvar) and z is sampled with the
reparameterization trick. A conditional model concatenates the one-hot label to the encoder's
features and to z. Everything else that tells the variants apart lives in `losses.py`.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import noise
from .config import Config
from .registry import spec_of


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """(B, *shape) [+ (B, n_cond)] -> (B, out_dim). pytorch/examples vae: 784 -> 400 -> 2x20."""

    def __init__(self, shape: tuple[int, ...], hidden: tuple[int, ...], out_dim: int, n_cond: int = 0):
        super().__init__()
        self.net = _mlp([math.prod(shape) + n_cond, *hidden, out_dim])

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(1)  # (B, D)
        if c is not None:
            h = torch.cat([h, c], dim=1)
        return self.net(h)


class MLPDecoder(nn.Module):
    """(B, latent) [+ (B, n_cond)] -> (B, *shape) pre-activation outputs (logits or means)."""

    def __init__(self, shape: tuple[int, ...], hidden: tuple[int, ...], latent_dim: int, n_cond: int = 0):
        super().__init__()
        self.shape = shape
        self.net = _mlp([latent_dim + n_cond, *reversed(hidden), math.prod(shape)])

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if c is not None:
            z = torch.cat([z, c], dim=1)
        return self.net(z).view(-1, *self.shape)


def _check_conv(shape: tuple[int, ...], hidden: tuple[int, ...]) -> tuple[int, int]:
    """The spatial size after len(hidden) stride-2 convolutions; each halves H and W."""
    if len(shape) != 3:
        raise ValueError(f"the conv architecture needs images (C, H, W), got data of shape {shape}")
    k = 2 ** len(hidden)
    if shape[1] % k or shape[2] % k:
        raise ValueError(f"conv with {len(hidden)} layers needs H and W divisible by {k}, got {shape[1:]}")
    return shape[1] // k, shape[2] // k


class ConvEncoder(nn.Module):
    """(B, C, H, W) -> stride-2 convs (28x28 -> 14x14 -> 7x7 for hidden=(32, 64)) -> (B, out_dim)."""

    def __init__(self, shape: tuple[int, ...], hidden: tuple[int, ...], out_dim: int, n_cond: int = 0):
        super().__init__()
        h, w = _check_conv(shape, hidden)
        layers: list[nn.Module] = []
        for c_in, c_out in zip((shape[0], *hidden), hidden):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(hidden[-1] * h * w + n_cond, out_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.convs(x)  # (B, hidden[-1] * h * w)
        if c is not None:
            h = torch.cat([h, c], dim=1)
        return self.head(h)


class ConvDecoder(nn.Module):
    """(B, latent) -> linear -> transposed convs (7x7 -> 14x14 -> 28x28) -> (B, C, H, W)."""

    def __init__(self, shape: tuple[int, ...], hidden: tuple[int, ...], latent_dim: int, n_cond: int = 0):
        super().__init__()
        h, w = _check_conv(shape, hidden)
        self.start = (hidden[-1], h, w)
        self.fc = nn.Linear(latent_dim + n_cond, math.prod(self.start))
        chans = (*reversed(hidden), shape[0])
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(chans, chans[1:])):
            layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
            if i < len(chans) - 2:
                layers.append(nn.ReLU())
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if c is not None:
            z = torch.cat([z, c], dim=1)
        h = F.relu(self.fc(z)).view(-1, *self.start)  # (B, hidden[-1], h, w)
        return self.deconvs(h)


PARTS = {"mlp": (MLPEncoder, MLPDecoder), "conv": (ConvEncoder, ConvDecoder)}


class Autoencoder(nn.Module):
    """x -> encoder -> z (or mu, logvar -> z) -> decoder -> logits / means of p(x|z)."""

    def __init__(self, cfg: Config, shape: tuple[int, ...], n_classes: int):
        super().__init__()
        spec = spec_of(cfg.model)
        self.variational = spec.variational
        self.sigmoid_code = spec.sigmoid_code(cfg)  # sparse AE with KL(rho || rho_hat) needs codes in (0, 1)
        self.n_cond = n_classes if spec.conditional else 0
        self.latent_dim = cfg.latent_dim
        self.likelihood = cfg.likelihood
        self.shape = tuple(shape)
        Encoder, Decoder = PARTS[cfg.arch]
        out_dim = 2 * cfg.latent_dim if self.variational else cfg.latent_dim
        self.encoder = Encoder(self.shape, cfg.hidden, out_dim, self.n_cond)
        self.decoder = Decoder(self.shape, cfg.hidden, cfg.latent_dim, self.n_cond)

    def condition(self, y: torch.Tensor | None) -> torch.Tensor | None:
        """Labels (B,) -> one-hot (B, n_classes) for a conditional model, else None."""
        if not self.n_cond:
            return None
        if y is None:
            raise ValueError("a conditional model needs class labels")
        return F.one_hot(y, self.n_cond).float()

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """-> (mu, logvar), each (B, latent_dim); for a plain AE (code, None)."""
        h = self.encoder(x, self.condition(y))
        if self.variational:
            mu, logvar = h.chunk(2, dim=1)
            return mu, logvar
        return (torch.sigmoid(h) if self.sigmoid_code else h), None

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I) (Kingma & Welling 2014, section 2.4)."""
        return mu + torch.exp(0.5 * logvar) * noise.randn_like(mu)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """(B, latent_dim) -> (B, *shape) pre-activation outputs."""
        return self.decoder(z, self.condition(y))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor | None]:
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar) if self.variational else mu
        return {"logits": self.decode(z, y), "z": z, "mu": mu, "logvar": logvar}
