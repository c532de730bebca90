"""run_learning.sh refuses what it does not know, with exit 2 and one line."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import ROOT


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "run_learning.sh"), *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


def test_unknown_command_exits_2_and_lists_the_available_ones():
    result = run_script("train-everything")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "run_learning.sh: unknown command 'train-everything' (available: setup, test, train-local, "
        "train-cloud, train-validate, tui)")


def test_bad_torch_choice_is_refused_before_installing_anything(tmp_path):
    result = run_script("setup", REDHEART_TORCH="rocm", REDHEART_VENV=str(tmp_path / "venv"))
    assert result.returncode == 2
    assert "REDHEART_TORCH must be auto, cpu or cuda (got 'rocm')" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_train_cloud_refuses_a_bad_gpu_count_before_setup(tmp_path):
    result = run_script("train-cloud", "--gpus", "0", REDHEART_VENV=str(tmp_path / "venv"))
    assert result.returncode == 2
    assert result.stderr.strip() == "run_learning.sh: --gpus must be a positive number (got '0')"
    assert not (tmp_path / "venv").exists()
