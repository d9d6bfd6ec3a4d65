"""What a test needs from the machine (Chromium, Ray, nginx): where it is missing the test is skipped, except
in CI (CI=true), where a test that cannot run is a failure, never a silent skip."""
from __future__ import annotations

import importlib
import os
from typing import NoReturn


def in_ci() -> bool:
    """CI=true (or 1, yes): the environment variable CI services set."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(message: str) -> NoReturn:
    """The calling test cannot run: skip it, or under CI fail it with `message`."""
    import pytest

    if in_ci():
        pytest.fail(f"{message} (CI=true: a test that cannot run is a failure)", pytrace=False)
    pytest.skip(message)


def require_ray() -> None:
    """For the tests that run jobs on a real local Ray (requirements.txt installs it)."""
    try:
        importlib.import_module("ray")
    except ImportError as e:
        unavailable(f"ray is not importable ({e}): pip install ray")


def require_nginx() -> None:
    """For the deployment tests (deploy/): Debian's nginx, or the one $VAE_CORE_NGINX names."""
    from pathlib import Path

    nginx = os.environ.get("VAE_CORE_NGINX", "/usr/sbin/nginx")
    if not Path(nginx).is_file():
        unavailable(f"{nginx} is missing: apt-get install -y nginx")
