"""Profile mistakes: the one-line messages are in the bad-input table
(tests/bad_inputs/cases.py); here, `--debug` shows the traceback instead."""

from __future__ import annotations

from tests.conftest import run_cli


def test_debug_shows_the_traceback(tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_text("[train]\nbatch_size = 0\n")
    result = run_cli("config", str(profile), "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "ConfigError" in result.stderr
