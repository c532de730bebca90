"""`redheart validate`'s metrics, baselines, intervals and splits (issue 15, section 1).

Every expected number here was computed by hand from the constructed rows
(the arithmetic is in the comments), so a metric that drifts from its
definition fails; the sklearn value, the bootstrap's numpy value and the
hand value must all agree.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from redheart.config import DataSource
from redheart.data.example import DilemmaPair, Example
from redheart.data.sources import SourceData
from redheart.data.split import split_sources, splits
from redheart.tasks import EKMAN
from redheart.train import baselines, bootstrap, metrics
from redheart.train.eval_set import EvalSet, Predictions, score
from redheart.train.regret_decision import decision_threshold
from redheart.train.validate import beats, model_predictions, verdicts

A, D, F, J, S, U, N = range(7)   # anger disgust fear joy sadness surprise neutral


def onehot(*classes: int, value: float = 1.0) -> list[float]:
    row = [0.0] * 7
    for c in classes:
        row[c] = value / len(classes)
    return row


# Four rows. Row 0 is a tie (anger and joy, 0.5 each): both are true labels.
TRUTH = [onehot(A, J), onehot(J), onehot(N), onehot(S)]
PROBS = np.array([
    [0.40, 0.0, 0.00, 0.35, 0.00, 0.0, 0.25],   # predicts {anger, joy}
    [0.10, 0.0, 0.00, 0.20, 0.20, 0.0, 0.50],   # predicts {neutral}
    [0.05, 0.0, 0.00, 0.05, 0.00, 0.0, 0.90],   # predicts {neutral}
    [0.09, 0.0, 0.31, 0.00, 0.30, 0.0, 0.30],   # predicts {fear, sadness, neutral}: >= 0.3
])


def test_multilabel_f1_is_the_papers_protocol_on_a_hand_computed_case():
    truth = metrics.emotion_sets(TRUTH)
    assert truth[0].tolist() == [True, False, False, True, False, False, False]  # the tie
    values, stats = metrics.emotion_paper(truth, PROBS)
    # anger tp1 -> 1; joy tp1 fn1 -> 2/3; neutral tp1 fp2 -> 2/4; sadness tp1 -> 1;
    # fear fp1 -> 0; disgust and surprise: nothing true, nothing predicted -> 0.
    expected = {"anger": 1.0, "disgust": 0.0, "fear": 0.0, "joy": 2 / 3, "sadness": 1.0,
                "surprise": 0.0, "neutral": 0.5}
    assert values["f1"] == pytest.approx(expected)
    assert values["macro_f1"] == pytest.approx((1 + 2 / 3 + 1 + 0.5) / 7)   # over all seven
    assert stats["macro_f1"].value() == pytest.approx(values["macro_f1"])
    assert stats["f1"].value() == pytest.approx(list(expected.values()))


def test_single_label_rows_use_argmax_of_the_prediction_and_all_seven_classes():
    truth = metrics.emotion_sets(TRUTH)
    single = metrics.single_label_rows(truth)
    assert single.tolist() == [False, True, True, True]        # the tie row is not single
    values, stats = metrics.emotion_single(truth[single], PROBS[single])
    # truth joy, neutral, sadness; argmax neutral, neutral, fear: one of three right.
    # neutral tp1 fp1 -> 2/3, every other class 0 -> macro (2/3) / 7.
    assert values["single_label_accuracy"] == pytest.approx(1 / 3)
    assert values["single_label_macro_f1"] == pytest.approx(2 / 3 / 7)
    for name in values:
        assert stats[name].value() == pytest.approx(values[name])


def test_a_perfect_and_a_constant_emotion_predictor():
    shares = [onehot(c) for c in range(7)] + [onehot(J, N), onehot(J)]
    truth = metrics.emotion_sets(shares)
    perfect, _ = metrics.emotion_paper(truth, np.asarray(shares))
    assert perfect["macro_f1"] == 1.0
    single, _ = metrics.emotion_single(truth[metrics.single_label_rows(truth)],
                                       np.asarray(shares)[metrics.single_label_rows(truth)])
    assert single == {"single_label_accuracy": 1.0, "single_label_macro_f1": 1.0}
    constant, _ = metrics.emotion_paper(truth, np.tile(np.eye(7)[J], (9, 1)))
    # joy is true in 3 of 9 rows and predicted in all: 2*3 / (2*3 + 6) = 0.5; others 0.
    assert constant["f1"]["joy"] == pytest.approx(0.5)
    assert constant["macro_f1"] == pytest.approx(0.5 / 7)


def test_regret_metrics_by_hand():
    truth = np.array([0.1, 0.6, 0.8, 0.3])
    estimate = np.array([0.2, 0.4, 0.9, 0.3])
    values, stats = metrics.regret(truth, estimate, estimate > 0.5)
    # MAE (0.1 + 0.2 + 0.1 + 0) / 4; WRONG truth rows 1, 2, predicted row 2 -> tp1 fn1 -> 2/3.
    assert values["mae"] == pytest.approx(0.1)
    assert values["binarized_f1"] == pytest.approx(2 / 3)
    dx, dy = truth - truth.mean(), estimate - estimate.mean()
    assert values["pearson"] == pytest.approx((dx @ dy) / np.sqrt((dx @ dx) * (dy @ dy)))
    for name in values:
        assert stats[name].value() == pytest.approx(values[name])
    # A constant (the prior): Pearson r undefined, and a mean below 0.5 never says WRONG.
    constant, stats = metrics.regret(truth, np.full(4, 0.45), np.full(4, False))
    assert constant["pearson"] is None and constant["binarized_f1"] == 0.0
    assert bootstrap.interval(stats["pearson"]) is None


def test_pairwise_and_surd_by_hand():
    values, stats = metrics.pairwise(np.array([1, 0, 1, 1]), np.array([1, 1, -1, 1]))
    assert values["pairwise_accuracy"] == 0.5       # a tie (-1) is never right
    assert stats["pairwise_accuracy"].value() == 0.5
    truth = np.array([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]])
    shares = np.array([[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0]])
    values, stats = metrics.surd(truth, shares)
    assert values["mse"] == pytest.approx((0.25 + 0.25) / 8)
    assert stats["mse"].value() == pytest.approx(values["mse"])


def _source(split: str, examples=(), pairs=()) -> SourceData:
    kind = "scruples_dilemmas" if pairs else "jsonl"
    return SourceData(DataSource(kind=kind, path=f"{split}.jsonl", split=split), Path("x"),
                      list(examples), list(pairs))


def _pair(i: int, less: int) -> DilemmaPair:
    return DilemmaPair(f"first {i}", f"second {i}", less, (1, 0), f"p:{i}")


def test_the_pairs_prior_is_the_majority_side_of_the_training_pairs():
    train = [_source("train", pairs=[_pair(i, side) for i, side in enumerate([1, 1, 1, 0])])]
    rows = EvalSet.of([_source("dev", pairs=[_pair(9, 1), _pair(8, 0), _pair(7, 1)])])
    prior = baselines.prior(train, rows)
    assert prior.less_ethical.tolist() == [1, 1, 1]          # second, three times of four
    values, _ = score(rows, prior)
    assert values["bentham"]["pairwise_accuracy"] == pytest.approx(2 / 3)
    tie = [_source("train", pairs=[_pair(0, 1), _pair(1, 0)])]
    assert baselines.prior(tie, rows).less_ethical.tolist() == [0, 0, 0]   # first on a tie


def test_the_emotion_and_regret_priors_come_from_the_training_rows():
    train = [_source("train", [Example("a", "t:1", emotion=tuple(onehot(A, N)), regret=0.9),
                               Example("b", "t:2", emotion=tuple(onehot(N)), regret=0.2),
                               Example("c", "t:3", emotion=tuple(onehot(J)), regret=0.3)])]
    rows = EvalSet.of([_source("dev", [Example("d", "d:1", emotion=tuple(onehot(N)),
                                               regret=0.7)])])
    prior = baselines.prior(train, rows)
    # neutral is a true label of two training rows: the prior predicts neutral alone.
    assert prior.emotion.tolist() == [np.eye(7)[N].tolist()]
    # mean regret 1.4 / 3 = 0.467, under 0.5; but one training row of three is WRONG, and
    # on them "always WRONG" has F1 2 * 1 / (3 + 1) = 0.5 against "never" 0: the prior's
    # decision, fitted as the model's is, says WRONG.
    assert prior.regret == pytest.approx([1.4 / 3]) and prior.wrong.tolist() == [True]
    # No WRONG training row: nothing to fit, and 0.2 is under the target's 0.5.
    right_only = [_source("train", [Example("b", "t:2", regret=0.2)])]
    assert baselines.prior(right_only, rows).wrong.tolist() == [False]
    # Every training row WRONG: nothing to fit either, and 0.8 is over 0.5.
    wrong_only = [_source("train", [Example("a", "t:1", regret=0.8)])]
    assert baselines.prior(wrong_only, rows).wrong.tolist() == [True]


def test_bootstrap_intervals_contain_the_estimate_and_repeat_for_a_seed():
    rng = np.random.default_rng(7)
    shares = np.eye(7)[rng.integers(0, 7, 5000)]
    probs = np.where(rng.random((5000, 1)) < 0.6, shares, rng.dirichlet(np.ones(7), 5000))
    truth = metrics.emotion_sets(shares)
    started = time.perf_counter()
    values, stats = metrics.emotion_paper(truth, probs)
    low, high = bootstrap.interval(stats["macro_f1"])
    elapsed = time.perf_counter() - started
    assert low < values["macro_f1"] < high and high - low < 0.05
    assert bootstrap.interval(stats["macro_f1"]) == [low, high]
    assert bootstrap.interval(stats["macro_f1"], seed=1) != [low, high]
    assert bootstrap.resample_weights(5000).sum(1).tolist() == [5000.0] * 1000
    assert elapsed < 10, f"1,000 resamples of 5,000 rows took {elapsed:.1f} s"
    per_class = bootstrap.interval(stats["f1"])
    for (lo, hi), value in zip(per_class, values["f1"].values(), strict=True):
        assert lo <= value <= hi


def test_beats_needs_both_intervals_cleared():
    assert beats([0.6, 0.7], [[0.4, 0.5], [0.5, 0.59]], higher=True)
    assert not beats([0.6, 0.7], [[0.4, 0.5], [0.5, 0.6]], higher=True)    # touching
    assert beats([0.1, 0.2], [[0.25, 0.3], [0.21, 0.3]], higher=False)
    assert not beats([0.6, 0.7], [[0.4, 0.5], None], higher=True)          # no probe
    found = verdicts({"regret": {"pearson": 0.3, "mae": 0.2}},
                     {"model": {"regret": {"pearson": [0.2, 0.4], "mae": [0.19, 0.21]}},
                      "prior": {"regret": {"pearson": None, "mae": [0.3, 0.31]}},
                      "probe": {"regret": {"pearson": [0.1, 0.15], "mae": [0.2, 0.25]}}})
    assert found == {"regret": {"pearson": True, "mae": False}}   # r above 0 and the probe


def test_model_predictions_follow_the_eval_rows_and_a_hedonic_tie_is_wrong():
    rows = EvalSet.of([_source("dev", pairs=[_pair(0, 1), _pair(1, 0), _pair(2, 0)]),
                       _source("dev", [Example("x", "d:1", regret=0.8),
                                       Example("y", "d:2"), Example("z", "d:3", regret=0.1)])])
    outputs = {0: {"first": np.array([0.5, 0.1, 0.2]), "second": np.array([0.1, 0.5, 0.2])},
               1: {"emotion": np.full((3, 7), 1 / 7), "regret": np.array([0.7, 0.0, 0.4]),
                   "surd": np.full((3, 4), 0.25)}}
    found = model_predictions(outputs, rows, threshold=0.35)
    assert found.less_ethical.tolist() == [1, 0, -1]
    assert found.regret.tolist() == [0.7, 0.4] and found.wrong.tolist() == [True, True]
    assert found.emotion is None                      # no row carries an emotion target
    values, intervals = score(rows, found)
    assert values["bentham"]["pairwise_accuracy"] == pytest.approx(2 / 3)
    assert set(values) == set(intervals) == {"bentham", "regret"}


def test_test_sources_never_reach_the_trainer():
    sources = [_source("train", [Example("a", "t:1", regret=0.1)]),
               _source("dev", [Example("b", "d:1", regret=0.2)]),
               _source("test", [Example("c", "x:1", regret=0.3)])]
    train, dev = split_sources(sources, eval_fraction=0.5)
    assert [s.source.split for s in train + dev] == ["train", "dev"]
    parts = splits(sources, eval_fraction=0.5)
    assert [e.text for s in parts.test for e in s.examples] == ["c"]


def test_scores_without_a_probe_leave_its_metrics_out():
    rows = EvalSet.of([_source("dev", [Example("d", "d:1", emotion=tuple(onehot(N)))])])
    assert score(rows, Predictions()) == ({}, {})
    assert rows.counts() == {"emotion": 1, "emotion_single_label": 1, "regret": 0,
                             "bentham": 0, "surd": 0}
    assert list(EKMAN).index("neutral") == N


# End to end: a real quickstart run, validated as a user does.

@pytest.fixture(scope="module")
def trained(quickstart_data, tmp_path_factory) -> Path:
    """One real training step: validate needs a checkpoint, not a good one."""
    from tests.conftest import make_trainer

    run_dir = tmp_path_factory.mktemp("validate") / "run"
    trainer = make_trainer(quickstart_data, run_dir, max_steps=1)
    try:
        trainer.fit()
    finally:
        trainer.close()
    return run_dir


def _validate(capsys, *args: str) -> tuple[int, str, str]:
    from redheart.cli import main

    code = main(["validate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_validate_json_has_intervals_baselines_and_verdicts(trained, quickstart_data, capsys):
    code, out, err = _validate(capsys, str(trained), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["split"] == "dev"
    assert result["bootstrap"] == {"resamples": 1000, "seed": 0, "level": 0.95,
                                   "method": "percentile"}
    state = json.loads((Path(result["checkpoint"]) / "state.json").read_text())
    assert result["regret_threshold"] == decision_threshold(state)   # the trainer's fit
    assert set(result["metrics"]) == {"emotion", "regret", "bentham", "surd"}
    for kind, values in [("model", result["metrics"]), ("prior", result["baselines"]["prior"]),
                         ("probe", result["baselines"]["probe"])]:
        for task, task_values in values.items():
            for name, value in task_values.items():
                if name in ("count", "f1") or value is None:
                    continue
                low, high = result["intervals"][kind][task][name]
                assert low <= value <= high, (kind, task, name)
    assert result["baselines"]["prior"]["regret"]["pearson"] is None   # a constant
    assert set(result["baselines"]["probe"]) == {"emotion", "regret", "bentham", "surd"}
    assert all(isinstance(v, bool) for task in result["beats_baselines"].values()
               for v in task.values())
    config, sources, _ = quickstart_data
    parts = splits(sources, config.data.eval_fraction)
    sides = [p.less_ethical for s in parts.train for p in s.pairs]
    majority = int(sum(sides) * 2 > len(sides))
    dev = [p.less_ethical for s in parts.dev for p in s.pairs]
    assert result["counts"]["bentham"] == len(dev) == result["metrics"]["bentham"]["count"]
    assert result["baselines"]["prior"]["bentham"]["pairwise_accuracy"] == pytest.approx(
        np.mean(np.asarray(dev) == majority))
    assert result["probe_rows"]["emotion"]["used"] == result["probe_rows"]["emotion"]["of"]
    penalties = result["probe_penalty"]
    assert set(penalties) == set(result["probe_rows"]) == {"emotion", "regret", "bentham", "surd"}
    assert penalties["surd"]["alpha"] in (1.0, 10.0, 100.0, 1000.0)
    for task in ("emotion", "regret", "bentham"):
        assert penalties[task]["C"] in (0.001, 0.01, 0.1, 1.0), task
    emotion_rows = result["probe_rows"]["emotion"]["used"]     # judged on a fifth of them
    assert penalties["emotion"]["judged_on"] in (0, round(emotion_rows * 0.2))
    wrong = [e.regret > 0.5 for s in parts.train for e in s.examples if e.regret is not None]
    assert 0 < sum(wrong) < len(wrong)           # both sides: the fitted prior says WRONG
    assert result["prior_says_wrong"] is True
    # every dev row called WRONG: precision = the WRONG share p, recall 1, F1 2p / (1 + p)
    share = float(np.mean(_dev_wrong(parts)))
    assert result["baselines"]["prior"]["regret"]["binarized_f1"] == pytest.approx(
        2 * share / (1 + share))


def _dev_wrong(parts) -> list[bool]:
    return [e.regret > 0.5 for s in parts.dev for e in s.examples if e.regret is not None]


def test_validate_table_shows_intervals_and_verdicts(trained, capsys):
    code, out, err = _validate(capsys, str(trained))
    assert code == 0, err
    assert "the prior's: every row WRONG" in " ".join(out.split())
    assert "beats" in out and "95% percentile bootstrap interval" in out
    assert "hedonic pairwise" in out and "[" in out
    assert "probe penalties, picked on a held fifth of the training rows: emotion C" in \
        " ".join(out.split())
    # a row is read across: its values and bounds share one number of decimals
    table = out[:out.index("dev split:")]
    for line in table.splitlines():
        decimals = {len(d) for d in re.findall(r"\d\.(\d+)", line.replace("p>=0.3", ""))}
        assert len(decimals) <= 1, line


def test_row_decimals_give_the_largest_value_three_significant_digits():
    from redheart.render.validate_table import row_decimals

    assert row_decimals([0.442, 0.08163, 0.0553, 0.107]) == 3
    assert row_decimals([-0.00351, 0.503]) == 3
    assert row_decimals([0.0106, 0.0107, 0.0101, 0.0111]) == 4     # cpu-real's SURD MSE
    assert row_decimals([0.0087, 0.0032]) == 5
    assert row_decimals([0.0, 0.0]) == 3


def test_the_wrong_thresholds_print_with_three_decimals():
    from redheart.render.validate_table import _notes

    [line] = _notes({"metrics": {"regret": {}}, "regret_threshold": 0.22,
                     "probe_regret_threshold": 0.2, "prior_says_wrong": True})
    assert line.startswith("WRONG decision: model's regret > 0.220, probe's > 0.200, ")


def test_validate_split_test_without_a_test_source_is_one_line(trained, capsys):
    code, out, err = _validate(capsys, str(trained), "--split", "test")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and 'no source has split = "test"' in err
    assert err.startswith(f"error: {trained}/checkpoints/")


def test_validate_split_test_reports_on_the_test_source(trained, tmp_path, capsys):
    profile = tmp_path / "with-test.toml"
    profile.write_text((trained / "config.toml").read_text() +
                       '\n[[data.sources]]\nkind = "jsonl"\npath = "sample:sample.jsonl"\n'
                       'split = "test"\nlimit = 40\n')
    code, out, err = _validate(capsys, str(trained), "--profile", str(profile), "--split",
                               "test", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["split"] == "test"
    assert result["counts"]["bentham"] == 0 and "bentham" not in result["metrics"]
    assert 0 < result["counts"]["emotion"] <= 40


def test_a_probe_beyond_the_cap_fits_on_a_fixed_sample(monkeypatch):
    monkeypatch.setattr(baselines, "PROBE_MAX_ROWS", 5)
    taken = baselines._subsample(12)
    assert len(taken) == 5 and list(taken) == sorted(set(taken))
    assert taken.tolist() == baselines._subsample(12).tolist()       # the same every time
    assert baselines._subsample(4).tolist() == [0, 1, 2, 3]          # under the cap: all


def test_a_penalty_judged_on_no_rows_is_not_called_picked():
    """Too few training rows to judge candidates: the default stays, and the note says so."""
    from redheart.render.validate_table import _notes

    lines = _notes({"metrics": {}, "probe_penalty": {
        "emotion": {"C": 0.01, "judged_on": 1200}, "bentham": {"C": 1.0, "judged_on": 0},
        "surd": {"alpha": 1000.0, "judged_on": 400}}})
    assert lines == [
        "probe penalties, picked on a held fifth of the training rows: emotion C 0.01, "
        "surd alpha 1000",
        "probe penalties left at scikit-learn's default (too few training rows to pick one): "
        "bentham C 1"]
