"""The Diagnostics page's heaviest estimate: the importance-weighted log p(x) with k samples, as the
page computes it (the first 200 validation examples, the app's inference threads), on a pretrained
model. Prints one line per k; the last line is one JSON object {"model", "n", "seconds": {k: s},
"iwae": {k: nats}, "elbo", "load_average"}.

    python bench/bench_iwae.py [--model digits-vae-2d] [--k 50,5000]
"""
from __future__ import annotations

import argparse
import json
import os
import time

from vae_core import threads
from vae_core.checkpoint import load
from vae_core.data import load_split
from vae_core.metrics import iwae_bound, loss_terms
from vae_core.zoo import ZOO_DIR

N = 200  # pages/diagnostics.py: IWAE_EXAMPLES


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="digits-vae-2d")
    ap.add_argument("--k", default="50,5000")
    args = ap.parse_args()
    threads.use(threads.UI_THREADS)
    ckpt = load(ZOO_DIR / f"{args.model}.safetensors")
    model = ckpt.build_model("cpu").eval()
    _, val = load_split(ckpt.config)
    x = val.x[:N]
    y = val.y[:N] if model.n_cond else None
    terms = loss_terms(model, x, val.y[:N], ckpt.config, beta=1.0)
    out = {"model": args.model, "n": len(x), "seconds": {}, "iwae": {}, "elbo": -(terms["recon"] + terms["kl"])}
    for k in (int(t) for t in args.k.split(",")):
        t0 = time.perf_counter()
        value = iwae_bound(model, x, y, ckpt.config, k).mean().item()
        out["seconds"][k], out["iwae"][k] = round(time.perf_counter() - t0, 3), value
        print(f"k = {k}: {out['seconds'][k]:.2f} s, L_k = {value:.3f} nats (ELBO {out['elbo']:.3f})", flush=True)
    out["load_average"] = os.getloadavg()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
