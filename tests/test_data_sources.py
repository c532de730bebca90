"""Targets derived from real rows of ../shared/data, checked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from redheart.config import DataSource
from redheart.data.sources import read_source
from redheart.data.stats import source_stats
from redheart.tasks import EKMAN, FINE_LABELS
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(),
                                reason=f"real data not found at {SHARED_DATA}")


def first(kind: str, path: str, n: int):
    data = read_source(DataSource(kind=kind, path=path, limit=n), SHARED_DATA)
    return data.examples or data.pairs


def test_goemotions_rows_become_ekman_distributions():
    rows = first("goemotions", "goemotions/dev.tsv", 3)
    # dev.tsv:2 "You know the answer man, ..." is labelled 4,27 = approval, neutral
    second = rows[1]
    assert second.text.startswith("You know the answer man")
    emotion = dict(zip(EKMAN, second.emotion, strict=True))
    assert emotion["joy"] == 0.5 and emotion["neutral"] == 0.5       # approval -> joy
    assert sum(second.fine) == 2
    assert second.fine[FINE_LABELS.index("approval")] == 1.0
    assert second.fine[FINE_LABELS.index("neutral")] == 1.0
    assert second.sentiment == (0.5, 0.0, 0.0, 0.5)                 # positive, neutral
    # dev.tsv:3 "I've never been this sad in my life!" is 25 = sadness
    assert rows[2].emotion == tuple(1.0 if n == "sadness" else 0.0 for n in EKMAN)
    assert rows[2].sentiment == (0.0, 1.0, 0.0, 0.0)


def beta_quantile(q: float, a: int, b: int) -> float:
    """Independent check: invert a trapezoid-integrated Beta CDF on a fine grid."""
    x = np.linspace(0, 1, 200_001)
    pdf = x ** (a - 1) * (1 - x) ** (b - 1)
    cdf = np.concatenate([[0], np.cumsum((pdf[1:] + pdf[:-1]) / 2)])
    return float(np.interp(q, cdf / cdf[-1], x))


def test_scruples_anecdote_targets_from_votes():
    (row,) = first("scruples_anecdotes", "scruples/anecdotes/dev.scruples-anecdotes.jsonl", 1)
    # label_scores: AUTHOR 1, OTHER 10, EVERYBODY 0, NOBODY 0, INFO 0 -> RIGHT 10, WRONG 1
    assert row.text.startswith("AITA for not wanting to be told to save money?\n")
    assert row.regret == pytest.approx(1 / 11)
    assert row.hedonic == pytest.approx(9 / 11)
    expected = [beta_quantile(q, 2, 11) for q in (0.1, 0.5, 0.9)]
    assert row.regret_views == pytest.approx(expected, abs=1e-4)
    assert sum(row.surd) == pytest.approx(1.0)
    assert row.votes == 11
    assert row.emotion is None and row.fine is None                  # masked, not invented


def test_surd_leak_share_no_longer_counts_the_voters():
    """Smoothing all 20 cells gave r = -0.95 between leak and log(votes) (architecture.md §7)."""
    data = read_source(DataSource(kind="scruples_anecdotes", limit=300,
                                  path="scruples/anecdotes/dev.scruples-anecdotes.jsonl"),
                       SHARED_DATA)
    surd = source_stats(data, [])["tasks"]["surd"]
    assert surd["count"] == 300
    assert -0.6 < surd["r_log_votes"]["leak"] < -0.4                  # measured: -0.51
    assert surd["mean"]["leak"] == pytest.approx(0.198, abs=0.005)    # was 0.81


def test_scruples_dilemma_pairs():
    (pair,) = first("scruples_dilemmas", "scruples/dilemmas/dev.scruples-dilemmas.jsonl", 1)
    # gold_annotations [3, 2]: 3 annotators judged the first action the less ethical
    assert pair.first.startswith("using my roommate's command hook")
    assert pair.annotations == (3, 2) and pair.less_ethical == 0


def test_whole_dev_splits_read_without_bad_rows():
    for kind, path, rows in [("goemotions", "goemotions/dev.tsv", 5426),
                             ("scruples_dilemmas", "scruples/dilemmas/dev.scruples-dilemmas.jsonl",
                              2340)]:
        data = read_source(DataSource(kind=kind, path=path), SHARED_DATA)
        assert len(data.examples) + len(data.pairs) == rows
        assert data.bad.count == 0


def test_relative_paths_resolve_against_the_profile_folder(tmp_path):
    data = read_source(DataSource(kind="goemotions", path="dev.tsv", limit=2),
                       SHARED_DATA / "goemotions")
    assert len(data.examples) == 2
    assert data.path == (SHARED_DATA / "goemotions" / "dev.tsv")
    assert isinstance(data.path, Path)


def test_goemotions_label_files_can_be_given(tmp_path):
    (tmp_path / "rows.tsv").write_text("so grateful for you\t15\tx1\n")
    source = DataSource(kind="goemotions", path="rows.tsv",
                        labels=str(SHARED_DATA / "goemotions" / "emotions.txt"),
                        ekman_mapping=str(SHARED_DATA / "goemotions" / "ekman_mapping.json"))
    (row,) = read_source(source, tmp_path).examples
    assert row.fine[FINE_LABELS.index("gratitude")] == 1.0
    assert dict(zip(EKMAN, row.emotion, strict=True))["joy"] == 1.0
