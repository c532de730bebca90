"""Malformed data rows: the one-line messages are in the bad-input table
(tests/bad_inputs/cases.py); here, skipping them (`--skip-bad-rows`, `[data] skip_bad_rows`)
counts and reports them instead."""

from __future__ import annotations

import json
import shutil

import pytest

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



def test_a_latin_1_row_is_skipped_and_a_blank_line_or_byte_order_mark_is_no_row(tmp_path):
    """A non-UTF-8 row was a decoding traceback even with --skip-bad-rows; a TSV's blank
    line (an editor's final newline) was a bad row, and a BOM stuck to the first text."""
    from redheart.config import DataSource
    from redheart.data.sources import read_source
    from tests.bad_inputs.test_bad_inputs import TAXONOMY

    if not TAXONOMY.is_dir():
        pytest.skip(f"GoEmotions taxonomy files not found at {TAXONOMY}")
    for name in ("emotions.txt", "ekman_mapping.json"):
        (tmp_path / name).write_bytes((TAXONOMY / name).read_bytes())
    (tmp_path / "rows.tsv").write_bytes(b"\xef\xbb\xbfso glad\t17\ta\r\n\n"
                                        b"caf\xe9 au lait\t0\tb\nreally sad\t25\tc\n\n")
    data = read_source(DataSource(kind="goemotions", path="rows.tsv"), tmp_path,
                       skip_bad_rows=True)
    assert [(e.text, e.origin) for e in data.examples] == [
        ("so glad", f"{tmp_path}/rows.tsv:1"), ("really sad", f"{tmp_path}/rows.tsv:4")]
    assert data.bad.reasons == [f"{tmp_path}/rows.tsv:3: not UTF-8 (byte 0xe9 at column 4); "
                                f"save the file as UTF-8"]

def test_a_run_told_to_skip_bad_rows_trains_and_reports_them(quickstart_data, tmp_path):
    """`run` has no --skip-bad-rows: the profile key is how a run (and validate) skips."""
    from redheart.runs.events import read_events
    from tests.conftest import PROFILES

    config, _, _ = quickstart_data
    (tmp_path / "bad.jsonl").write_text('{"text": "I am thrilled", "emotion": "happy"}\n'
                                        '{"text": "I am so sad", "emotion": "sadness"}\n')
    profile = tmp_path / "p.toml"
    profile.write_text((PROFILES / "quickstart.toml").read_text()
                       .replace('"sample:dilemmas.jsonl"', '"sample:dilemmas.jsonl"\n\n'
                                '[[data.sources]]\nkind = "jsonl"\npath = "bad.jsonl"', 1))
    # A copy of the session's cache: this run adds a text, which the session's own must
    # not hold (test_prepare_cli counts its texts).
    cache = shutil.copytree(config.data.cache_dir, tmp_path / "cache")
    common = ("--set", f'data.cache_dir="{cache}"',
              "--set", "train.max_steps=2", "--run-dir", str(tmp_path / "run"))
    refused = run_here("run", str(profile), *common)
    assert refused.returncode == 2
    assert "bad.jsonl:1: emotion" in refused.stderr
    assert "--set data.skip_bad_rows=true" in refused.stderr
    done = run_here("run", str(profile), *common, "--set", "data.skip_bad_rows=true")
    assert done.returncode == 0, done.stderr
    warnings = [e["message"] for e in read_events(tmp_path / "run" / "events.jsonl")
                if e["type"] == "warning"]
    assert any("bad.jsonl: skipped 1 bad rows" in message for message in warnings)
