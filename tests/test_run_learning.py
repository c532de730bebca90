"""run_learning.sh refuses what it does not know, with exit 2 and one line."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

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


def script_copy(tmp_path: Path) -> Path:
    """run_learning.sh in a folder of its own, so its runs/ are the test's, with a venv
    whose setup stamp is current and whose `redheart` only prints where and how it ran."""
    root = tmp_path / "repo"
    (root / "venv" / "bin").mkdir(parents=True)
    for name in ("run_learning.sh", "pyproject.toml"):
        shutil.copy2(ROOT / name, root / name)
    for name, body in (("python", "exit 0"), ("redheart", 'echo "$PWD $*"')):
        tool = root / "venv" / "bin" / name
        tool.write_text(f"#!/bin/sh\n{body}\n")
        tool.chmod(0o755)
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()
    (root / "venv" / ".redheart-setup").write_text(f"{digest} cpu\n")
    return root


def train_cloud(root: Path, visible: str, *args: str) -> subprocess.CompletedProcess:
    """train-cloud with a venv whose torch sees `visible` CUDA GPUs and whose torchrun only
    says it ran."""
    bin_dir = root / "venv" / "bin"
    (bin_dir / "python").write_text(f"#!/bin/sh\necho {visible}\n")
    (bin_dir / "torchrun").write_text('#!/bin/sh\necho "torchrun $*"\n')
    (bin_dir / "torchrun").chmod(0o755)
    return subprocess.run([str(root / "run_learning.sh"), "train-cloud", *args],
                          capture_output=True, text=True, cwd=root, timeout=60,
                          env={**os.environ, "REDHEART_TORCH": "cpu",
                               "REDHEART_VENV": str(root / "venv")})


def test_train_cloud_refuses_more_gpus_than_visible_before_torchrun(tmp_path):
    """On a CPU-only box every rank printed the device error and torchrun a traceback
    (exit 1); the launcher says it once, with a hint train-cloud itself accepts."""
    root = script_copy(tmp_path)
    none = train_cloud(root, "0", "--gpus", "2")
    assert none.returncode == 2 and none.stdout == ""
    assert none.stderr == (
        "run_learning.sh: train-cloud --gpus 2: no CUDA GPU is visible here "
        "(torch.cuda.device_count() is 0); run it on a machine with 2 GPUs, or "
        "./run_learning.sh train-local on this one\n")
    fewer = train_cloud(root, "1", "--gpus", "2")
    assert fewer.returncode == 2 and fewer.stdout == ""
    assert fewer.stderr == ("run_learning.sh: train-cloud --gpus 2: only 1 CUDA GPU(s) visible "
                            "here; pass --gpus 1, or run it on a machine with 2 GPUs\n")
    enough = train_cloud(root, "2", "--gpus", "2")
    assert enough.returncode == 0, enough.stderr
    assert enough.stdout.startswith("torchrun --standalone --nproc_per_node 2 -m redheart run")


def train_validate(root: Path, *args: str, cwd: Path | None = None,
                   venv: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(root / "run_learning.sh"), "train-validate", *args],
                          capture_output=True, text=True, cwd=cwd or root, timeout=60,
                          env={**os.environ, "REDHEART_TORCH": "cpu",
                               "REDHEART_VENV": str(venv or root / "venv")})


def test_train_validate_without_a_run_is_one_line_before_setup(tmp_path):
    root = script_copy(tmp_path)
    result = train_validate(root, venv=tmp_path / "no-venv")
    assert result.returncode == 2
    assert result.stderr == ("run_learning.sh: train-validate: no run with a best checkpoint "
                             "under runs/; train first or pass --load-checkpoint PATH\n")
    assert not (tmp_path / "no-venv").exists()          # refused before setup installs anything


def test_train_validate_validates_the_newest_runs_best_pointer(tmp_path):
    """`redheart validate` resolves the pointer (and checks it) itself; a newer run
    without a best checkpoint is passed over."""
    root = script_copy(tmp_path)
    for age, name, best in ((300, "old", True), (200, "new", True), (100, "newest", False)):
        checkpoints = root / "runs" / name / "checkpoints"
        checkpoints.mkdir(parents=True)
        if best:
            (checkpoints / "best").write_text("step-00000003\n")
        os.utime(checkpoints, (time.time() - age, time.time() - age))
    result = train_validate(root, "--load-checkpoint")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{root} validate runs/new/checkpoints/best\n"


def test_train_validate_reads_a_path_from_where_it_was_typed(tmp_path):
    root = script_copy(tmp_path)
    here = tmp_path / "elsewhere"
    here.mkdir()
    result = train_validate(root, "--load-checkpoint", "runs/x/checkpoints/last", cwd=here)
    assert result.stdout == f"{root} validate {here}/runs/x/checkpoints/last\n"
    result = train_validate(root, "--load-checkpoint", "/data/runs/x", cwd=here)
    assert result.stdout == f"{root} validate /data/runs/x\n"


def test_train_cloud_reads_its_paths_from_where_they_were_typed(tmp_path):
    """The launcher runs from its own folder: `--profile mine.toml` typed elsewhere was
    'profile not found' (or silently another file of that name under the repository)."""
    root = script_copy(tmp_path)
    here = tmp_path / "elsewhere"
    here.mkdir()
    result = subprocess.run([str(root / "run_learning.sh"), "train-cloud", "--profile",
                             "mine.toml", "--resume", "runs/x/checkpoints/last"],
                            capture_output=True, text=True, cwd=here, timeout=60,
                            env={**os.environ, "REDHEART_TORCH": "cpu",
                                 "REDHEART_VENV": str(root / "venv")})
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"{root} run {here}/mine.toml "
                             f"--resume {here}/runs/x/checkpoints/last\n")
    default = train_cloud(root, "0", "--resume", "last")
    assert default.stdout == f"{root} run profiles/cloud.toml --resume last\n"


def test_train_cloud_takes_the_set_its_device_error_names(tmp_path):
    """On a box without a GPU, `redheart run` says `--set train.device=cpu`; train-cloud
    answered that flag with 'unknown option'."""
    root = script_copy(tmp_path)
    result = train_cloud(root, "0", "--set", "train.device=cpu", "--checkpoint-interval", "50")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"{root} run profiles/cloud.toml --set train.device=cpu "
                             f"--set checkpoint.every_steps=50\n")


def test_train_cloud_refuses_a_missing_or_bad_value_in_its_own_words(tmp_path):
    """`--checkpoint-interval abc` was an error about `--set checkpoint.every_steps=abc`,
    a flag the user never typed; `--resume --debug` resumed from a checkpoint '--debug'."""
    root = script_copy(tmp_path)
    for args, line in (
            (("--checkpoint-interval", "abc"),
             "--checkpoint-interval must be a positive number of steps (got 'abc')"),
            (("--checkpoint-interval", "0"),
             "--checkpoint-interval must be a positive number of steps (got '0')"),
            (("--checkpoint-interval", ""),
             "--checkpoint-interval must be a positive number of steps (got '')"),
            (("--resume", "--debug"), "--resume needs last, best or a checkpoint"),
            (("--profile", "--gpus", "2"), "--profile needs a file"),
            (("--set",), "--set needs SECTION.KEY=VALUE")):
        result = train_cloud(root, "0", *args)
        assert (result.returncode, result.stdout) == (2, ""), args
        assert result.stderr == f"run_learning.sh: {line}\n", args


def test_help_shows_the_whole_header():
    """`help` printed a fixed 19 lines of the header, whatever it held."""
    result = run_script("help")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Red Heart launcher: the commands users of the original system know."
    assert "  ./run_learning.sh tui [PROFILE | --attach RUN_DIR | --remote HOST:PATH]" in lines
    assert lines[-1] == "pip take torch from that index (for example a specific CUDA wheel index)."


def test_setup_and_help_refuse_arguments_they_would_ignore(tmp_path):
    """`setup --force` said 'setup: ready' without forcing anything."""
    venv = tmp_path / "venv"
    for args, line in ((("setup", "--force"), "setup takes no arguments (got '--force')"),
                       (("help", "train-cloud"), "help takes no arguments (got 'train-cloud')")):
        # PYTHON=false: a launcher that went on to set up fails at once, installing nothing
        result = run_script(*args, REDHEART_VENV=str(venv), PYTHON="false")
        assert (result.returncode, result.stdout) == (2, ""), args
        assert result.stderr == f"run_learning.sh: {line}\n"
    assert not venv.exists()                    # refused before setup created anything


def test_no_command_says_so():
    result = run_script()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "run_learning.sh: no command given (available: setup, test, train-local, "
        "train-cloud, train-validate, tui)")


def test_train_validate_finds_the_newest_run_whose_name_has_a_space(tmp_path):
    """`[run] name = "my run"` is a valid profile; its folder was split in two words, so
    train-validate validated an older run's best instead, without a word."""
    root = script_copy(tmp_path)
    for age, name in ((300, "old-20260101-000000"), (100, "my run-20260102-000000")):
        checkpoints = root / "runs" / name / "checkpoints"
        checkpoints.mkdir(parents=True)
        (checkpoints / "best").write_text("step-00000003\n")
        os.utime(checkpoints, (time.time() - age, time.time() - age))
    result = train_validate(root)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{root} validate runs/my run-20260102-000000/checkpoints/best\n"
