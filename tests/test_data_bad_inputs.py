"""Malformed data: one line naming file:line and the field, exit 2; or counted skips."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import SHARED_DATA, run_cli

GOEMOTIONS = SHARED_DATA / "goemotions"
needs_taxonomy = pytest.mark.skipif(not GOEMOTIONS.is_dir(),
                                    reason=f"GoEmotions taxonomy files not found at {GOEMOTIONS}")

GOOD_TSV = "I love this so much\t0,17\tabc1\n"


def profile(tmp_path, kind: str, filename: str, extra: str = "") -> str:
    path = tmp_path / "p.toml"
    path.write_text(f'[data]\ncache_dir = "{tmp_path / "cache"}"\n{extra}\n'
                    f'[[data.sources]]\nkind = "{kind}"\npath = "{filename}"\n')
    return str(path)


TSV_CASES = [
    ("columns", GOOD_TSV + "only text here\n",
     "{d}/bad.tsv:2: expected 3 tab-separated columns (text, label ids, id), got 1"),
    ("label-id", GOOD_TSV + "fine text\t3,41\tabc2\n",
     "{d}/bad.tsv:2: label ids: 41 is not a label of emotions.txt (0..27)"),
    ("not-ids", GOOD_TSV + "fine text\tjoy\tabc2\n",
     "{d}/bad.tsv:2: label ids: 'joy' is not a comma list of integers"),
    ("empty-text", GOOD_TSV + "   \t3\tabc2\n", "{d}/bad.tsv:2: text: empty"),
]


@needs_taxonomy
@pytest.mark.parametrize("case", TSV_CASES, ids=[c[0] for c in TSV_CASES])
def test_bad_goemotions_row(tmp_path, case):
    _, content, expected = case
    for name in ("emotions.txt", "ekman_mapping.json"):
        shutil.copy(GOEMOTIONS / name, tmp_path / name)
    (tmp_path / "bad.tsv").write_text(content)
    result = run_cli("prepare", profile(tmp_path, "goemotions", "bad.tsv"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: " + expected.format(d=tmp_path) + " (or pass --skip-bad-rows to skip such rows)"]


JSONL_CASES = [
    ("json", '{"text": "ok", "emotion": "joy"}\n{"text": "broken",\n',
     "{d}/bad.jsonl:2: invalid JSON (Expecting property name enclosed in double quotes "
     "at column 19)"),
    ("nan", '{"text": "I kept the money", "regret": NaN}\n',
     "{d}/bad.jsonl:1: regret: expected a finite number in [0, 1], got nan"),
    ("range", '{"text": "I kept the money", "hedonic_value": 1.5}\n',
     "{d}/bad.jsonl:1: hedonic_value: 1.5 is out of range [-1, 1]"),
    ("simplex", '{"text": "x", "surd": {"redundant": 0.5, "unique": 0.5, "synergistic": 0.5, '
                '"leak": 0.0}}\n',
     "{d}/bad.jsonl:1: surd: components sum to 1.5000, expected 1"),
    ("label", '{"text": "I am thrilled", "emotion": "happy"}\n',
     "{d}/bad.jsonl:1: emotion: unknown class 'happy'; expected one of anger, disgust, fear, "
     "joy, sadness, surprise, neutral"),
    ("key", '{"text": "I am thrilled", "emotoin": "joy"}\n',
     "{d}/bad.jsonl:1: unknown key 'emotoin'; did you mean 'emotion'?"),
    ("empty-text", '{"text": "  ", "emotion": "joy"}\n', "{d}/bad.jsonl:1: text: missing or empty"),
    ("votes-and-regret", '{"text": "x", "regret": 0.2, "votes": {"AUTHOR": 1, "OTHER": 2, '
                         '"EVERYBODY": 0, "NOBODY": 0, "INFO": 0}}\n',
     "{d}/bad.jsonl:1: regret: give either votes or explicit regret/hedonic/SURD targets, "
     "not both"),
]


@pytest.mark.parametrize("case", JSONL_CASES, ids=[c[0] for c in JSONL_CASES])
def test_bad_jsonl_row(tmp_path, case):
    _, content, expected = case
    (tmp_path / "bad.jsonl").write_text(content)
    result = run_cli("prepare", profile(tmp_path, "jsonl", "bad.jsonl"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: " + expected.format(d=tmp_path) + " (or pass --skip-bad-rows to skip such rows)"]


def test_skip_bad_rows_counts_and_reports(tmp_path):
    (tmp_path / "bad.jsonl").write_text(
        '{"text": "I am thrilled", "emotion": "happy"}\n{"text": "I am so sad", '
        '"emotion": "sadness"}\n{"text": ""}\n')
    result = run_cli("data", "stats", profile(tmp_path, "jsonl", "bad.jsonl"), "--json",
                     "--skip-bad-rows")
    assert result.returncode == 0, result.stderr
    import json
    source = json.loads(result.stdout)["sources"][0]
    assert source["rows"] == 1 and source["bad_rows"] == 2


def test_missing_file_and_missing_sources(tmp_path):
    result = run_cli("prepare", profile(tmp_path, "jsonl", "nowhere.jsonl"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: [data.sources] path = 'nowhere.jsonl': {tmp_path}/nowhere.jsonl not found; "
        "fix the path (relative paths are relative to the profile's folder)"]
    empty = tmp_path / "empty.toml"
    empty.write_text("[run]\nname = 'x'\n")
    result = run_cli("prepare", str(empty))
    assert result.returncode == 2
    assert "[data] has no sources; add [[data.sources]] entries" in result.stderr


def test_encoder_directory_that_is_not_a_model(tmp_path):
    (tmp_path / "ok.jsonl").write_text('{"text": "I am so sad", "emotion": "sadness"}\n')
    (tmp_path / "not-a-model").mkdir()
    result = run_cli("prepare", profile(tmp_path, "jsonl", "ok.jsonl",
                                        f'encoder = "{tmp_path / "not-a-model"}"'))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: [data] encoder = '{tmp_path / 'not-a-model'}': {tmp_path / 'not-a-model'} is "
        "not a Hugging Face model directory (no config.json); name a local model directory "
        "or 'all-MiniLM-L6-v2'"]
