"""`redheart prepare` and `redheart data stats` end to end on the embedded sample set."""

from __future__ import annotations

import json
import re

from redheart.data.prepare import prepare
from tests.conftest import PROFILES, run_here


def test_second_prepare_encodes_zero_texts(quickstart_prepared):
    config, first = quickstart_prepared    # the session's first prepare, into a fresh cache
    assert first.encoded == first.cached == 255 + 2 * 46   # examples + both actions of pairs
    second = prepare(config, PROFILES)
    assert second.encoded == 0 and second.cached == first.cached


def test_data_stats_json_on_the_sample_set(tmp_path):
    result = run_here("data", "stats", "profiles/quickstart.toml", "--json",
                      "--set", f'data.cache_dir="{tmp_path}"')
    assert result.returncode == 0, result.stderr
    sample, dilemmas = json.loads(result.stdout)["sources"]
    assert sample["kind"] == "jsonl" and sample["rows"] == 255 and sample["bad_rows"] == 0
    tasks = sample["tasks"]
    assert set(tasks) == {"emotion", "bentham", "regret", "surd"}
    freq = tasks["emotion"]["class_freq"]
    assert abs(sum(freq.values()) - 1) < 1e-9 and min(freq.values()) > 0.05
    assert tasks["regret"]["count"] == tasks["surd"]["count"] > 100
    assert tasks["surd"]["r_log_votes"] is None     # SURD given in the file: no vote counts
    assert dilemmas["tasks"]["bentham"]["pairs"] == dilemmas["rows"] >= 40
    assert 0 < sample["tokens"]["p50"] <= sample["tokens"]["p90"] <= sample["tokens"]["max"]


def test_data_stats_table_keeps_each_path_and_count_line_whole(tmp_path, monkeypatch):
    """At 80 columns: the dilemma source's table is narrow (one task), and its path used to
    be its title, wrapped to the table's width and cut in two."""
    monkeypatch.setenv("COLUMNS", "80")
    result = run_here("data", "stats", "profiles/quickstart.toml",
                      "--set", f'data.cache_dir="{tmp_path}"')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    titles = []
    for name in ("sample.jsonl", "dilemmas.jsonl"):
        [title] = [line for line in lines if line.endswith(f"sample/{name}")]
        assert title.startswith(("jsonl: /", "scruples_dilemmas: /"))
        titles.append(title)
    # the name lines are never broken (in a deep checkout they pass 80); the rest fits
    assert max(len(line) for line in lines if line not in titles) <= 80
    assert "255 rows (0 bad); tokens p50 " in result.stdout
    assert [line for line in lines if line.startswith("46 rows (0 bad)")][0].endswith(
        "0% cut at 128 (head)")


def test_prepare_cli_prints_the_summary(tmp_path):
    result = run_here("prepare", "profiles/quickstart.toml", "--set",
                      f'data.cache_dir="{tmp_path}"', "--set", "data.encode_batch=128")
    assert result.returncode == 0, result.stderr
    assert "jsonl" in result.stderr and "255 rows" in result.stderr
    states = next((tmp_path / "states").iterdir())
    size = sum(p.stat().st_size for p in states.iterdir()) / 2**20
    assert re.search(rf"^encoded 347 new texts in \d+\.\d s; 347 in the cache {states} "
                     rf"\(128 tokens, head; {size:.1f} MiB\)$", result.stderr, re.M), result.stderr
    again = run_here("prepare", "profiles/quickstart.toml", "--set",
                     f'data.cache_dir="{tmp_path}"')
    assert (f"encoded 0 new texts; 347 in the cache {states} (128 tokens, head; {size:.1f} "
            f"MiB)") in again.stderr.splitlines()


def test_the_cache_is_filled_on_a_visible_gpu_unless_the_profile_trains_on_the_cpu(
        monkeypatch):
    import torch

    from redheart.config_load import load_profile
    from redheart.data.prepare import encoding_device

    def device_for(train_device: str) -> str:
        return encoding_device(load_profile(PROFILES / "quickstart.toml",
                                            [f'train.device="{train_device}"']))

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert [device_for(d) for d in ("auto", "cuda", "cpu")] == ["cuda", "cuda", "cpu"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert [device_for(d) for d in ("auto", "cuda", "cpu")] == ["cpu", "cpu", "cpu"]


def test_data_stats_says_which_rows_a_run_trains_on(tmp_path):
    """Rows alone hid that quickstart's eval_fraction keeps a tenth of each source for dev
    (25 of 255 examples and 4 of 46 pairs, by the blake2b hash of the text)."""
    result = run_here("data", "stats", "profiles/quickstart.toml", "--json",
                      "--set", f'data.cache_dir="{tmp_path}"')
    sample, dilemmas = json.loads(result.stdout)["sources"]
    assert (sample["split"], sample["rows"], sample["held_out"]) == ("train", 255, 25)
    assert (dilemmas["split"], dilemmas["rows"], dilemmas["held_out"]) == ("train", 46, 4)
    table = run_here("data", "stats", "profiles/quickstart.toml",
                     "--set", f'data.cache_dir="{tmp_path}"').stdout.splitlines()
    assert "split train: 230 rows trained on, 25 held out for dev ([data] eval_fraction)" in table
    no_holdout = run_here("data", "stats", "profiles/quickstart.toml", "--set",
                          f'data.cache_dir="{tmp_path}"', "--set", "data.eval_fraction=0")
    assert "split train: all 46 rows trained on" in no_holdout.stdout.splitlines()
