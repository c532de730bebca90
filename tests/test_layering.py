"""Architecture rules that a review would otherwise have to catch by eye."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def imports_in(package: str) -> dict[str, set[str]]:
    """Top-level module names imported by each .py file under a package."""
    pattern = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", re.MULTILINE)
    return {str(path.relative_to(ROOT)): set(pattern.findall(path.read_text()))
            for path in (ROOT / package).rglob("*.py")}


def test_library_never_imports_textual():
    offenders = [f for f, names in imports_in("redheart").items() if "textual" in names]
    assert offenders == []


def test_ui_never_touches_torch_or_nvml():
    offenders = [f for f, names in imports_in("tui").items() if names & {"torch", "pynvml"}]
    assert offenders == []


def test_profile_check_does_not_import_torch():
    """`redheart config` and profile validation stay instant: no torch import."""
    code = ("import sys; from redheart.config_load import load_profile; "
            "load_profile('profiles/local-8gb.toml'); "
            "import redheart.cli; print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_importing_the_trainer_leaves_the_compiler_unimported():
    """torch._dynamo costs 2-2.5 s of CPU to import: importing the trainer, as `run` and
    `validate` do, must not pay it; `[train] compile` imports it when it compiles."""
    code = ("import sys; import redheart.train.run, redheart.train.trainer; "
            "print('torch._dynamo' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.skipif(shutil.which("ruff") is None and not (ROOT / ".venv/bin/ruff").exists(),
                    reason="ruff is not installed (dev extra)")
def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(ROOT / ".venv/bin/ruff")
    result = subprocess.run([ruff, "check", "redheart", "tui", "tests", "bench"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout
