"""Malformed data rows: the one-line messages are in the bad-input table
(tests/bad_inputs/cases.py); here, `--skip-bad-rows` counts and reports them instead."""

from __future__ import annotations

import json

from tests.conftest import run_here


def test_skip_bad_rows_counts_and_reports(tmp_path):
    (tmp_path / "bad.jsonl").write_text(
        '{"text": "I am thrilled", "emotion": "happy"}\n{"text": "I am so sad", '
        '"emotion": "sadness"}\n{"text": ""}\n')
    profile = tmp_path / "p.toml"
    profile.write_text(f'[data]\ncache_dir = "{tmp_path / "cache"}"\n\n'
                       f'[[data.sources]]\nkind = "jsonl"\npath = "bad.jsonl"\n')
    result = run_here("data", "stats", str(profile), "--json", "--skip-bad-rows")
    assert result.returncode == 0, result.stderr
    source = json.loads(result.stdout)["sources"][0]
    assert source["rows"] == 1 and source["bad_rows"] == 2
