#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py): install the CUDA build of the pinned torch in a venv of its own,
# then train the MNIST 784-400-20 VAE on the CPU and on the GPU from the same seed and print epoch
# time, images/s and how closely the two devices' losses agree. Exit status 0: the GPU trains the
# same model within float tolerance; 1: the losses disagree; 2: no CUDA device (the CPU half ran).
#
#   bench/gpu_check.sh                  # a venv in .venv-gpu (or $GPU_VENV), from PyPI's index
#   bench/gpu_check.sh --no-install     # the python already here ($PYTHON, else python3): no install
#   bench/gpu_check.sh -- --epochs 5    # what follows -- goes to gpu_check.py
#
# PyPI's torch wheel for Linux x86_64 is the CUDA build (its CUDA libraries come as nvidia-* wheels);
# the CPU build this project's requirements name comes from PyTorch's CPU index instead.
set -euo pipefail
cd "$(dirname "$0")/.."

install=1
if [ "${1:-}" = "--no-install" ]; then install=0; shift; fi
if [ "${1:-}" = "--" ]; then shift; fi

if [ "$install" = 1 ]; then
  torch_version="$(sed -n 's/^torch==\([^ ]*\).*/\1/p' requirements.txt)"
  if [ -z "$torch_version" ]; then
    echo "FAIL: requirements.txt pins no torch version" >&2
    exit 3
  fi
  venv="${GPU_VENV:-.venv-gpu}"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q --index-url https://pypi.org/simple "torch==$torch_version"
  # what vae_core needs to train (not the app's streamlit, plotly, playwright, ray)
  "$venv/bin/pip" install -q --index-url https://pypi.org/simple \
    $(grep -E '^(numpy|safetensors|scikit-learn|scipy)==' requirements.txt)
  "$venv/bin/pip" install -q --no-deps -e .
  python="$venv/bin/python"
  "$python" -c "import torch; print('installed torch', torch.__version__, 'CUDA build', torch.version.cuda)"
else
  python="${PYTHON:-python3}"
fi
exec "$python" bench/gpu_check.py "$@"
