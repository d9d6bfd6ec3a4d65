"""A test that cannot run (no Chromium, no Ray, no nginx) is skipped on a laptop, but under CI (CI=true)
it fails: CI never passes by skipping. Each case runs pytest on one test in a fresh process with the
thing hidden: Chromium by VAE_CORE_CHROMIUM naming a missing path, Ray by a `ray` package earlier on
the path that raises ImportError, nginx by VAE_CORE_NGINX naming a missing path."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BROWSER_TEST = "tests/test_deep_links.py::test_a_deep_link_is_the_first_request_of_a_fresh_server[train-Train]"
RAY_TEST = "tests/test_runs.py::test_a_job_trains_in_a_worker_and_its_model_becomes_active[ray]"
DEPLOY_TEST = "tests/test_deploy.py::test_a_page_reconnects_by_itself_when_nginx_restarts"


def pytest_run(test: str, tmp_path: Path, ci: bool, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    environ.update(env, TMPDIR=str(tmp_path))  # (conftest's run store goes there)
    if ci:
        environ["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", test],
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)


def failed_not_skipped(out: str) -> bool:
    """pytest's last line: one test failed (in a fixture, pytest says error), none skipped."""
    return re.search(r"^1 (failed|error) in ", out, re.M) is not None and "skipped" not in out


def hidden_ray(tmp_path: Path) -> str:
    fake = tmp_path / "hide" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("ray hidden by the test")\n')
    return str(fake.parent)


def failed_in_ci_skipped_elsewhere(result: subprocess.CompletedProcess, ci: bool, said: str) -> str:
    """Assert the outcome (CI: one failure, no skip; a laptop: one skip) and that it said `said`."""
    out = result.stdout + result.stderr
    assert said in out, out
    if ci:
        assert result.returncode == 1 and failed_not_skipped(out), out
    else:
        assert result.returncode == 0 and "1 skipped" in out and "failed" not in out, out
    return out


@pytest.mark.parametrize("ci", [True, False], ids=["CI", "laptop"])
def test_missing_chromium_fails_in_ci_and_skips_elsewhere(tmp_path, ci):
    missing = tmp_path / "no-chromium"
    out = failed_in_ci_skipped_elsewhere(pytest_run(BROWSER_TEST, tmp_path, ci, VAE_CORE_CHROMIUM=str(missing)), ci,
                                         f"{missing} is missing")
    assert not ci or "CI=true: a test that cannot run is a failure" in out, out


@pytest.mark.parametrize("ci", [True, False], ids=["CI", "laptop"])
def test_missing_ray_fails_in_ci_and_skips_elsewhere(tmp_path, ci):
    failed_in_ci_skipped_elsewhere(pytest_run(RAY_TEST, tmp_path, ci, PYTHONPATH=hidden_ray(tmp_path)), ci,
                                   "ray is not importable (ray hidden by the test)")


@pytest.mark.parametrize("ci", [True, False], ids=["CI", "laptop"])
def test_missing_nginx_fails_in_ci_and_skips_elsewhere(tmp_path, ci):
    missing = tmp_path / "no-nginx"
    failed_in_ci_skipped_elsewhere(pytest_run(DEPLOY_TEST, tmp_path, ci, VAE_CORE_NGINX=str(missing)), ci,
                                   f"{missing} is missing")
