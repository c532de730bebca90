"""`Trainer.evaluate`: each task's mean over its own labelled rows, whatever else is evaluated."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import make_trainer


def _only(data, keep):
    return dataclasses.replace(data, examples=[e for e in data.examples if keep(e)], pairs=[])


def test_each_task_mean_is_over_its_own_rows(quickstart_data, tmp_path):
    """Emotion-only rows, anecdote rows (every target) and dilemma pairs evaluated apart
    and together: regret, SURD, Bentham and pairs keep their means exactly, and emotion's
    is the row-weighted mean of the two sets' (the old code divided every task's sum by all
    rows evaluated, scaling each mean by its task's share of the rows)."""
    _config, sources, _featurizer = quickstart_data
    trainer = make_trainer(quickstart_data, tmp_path / "run")
    try:
        examples = next(s for s in sources if s.examples)
        emotion = _only(examples, lambda e: e.emotion is not None and e.regret is None)
        anecdotes = _only(examples, lambda e: e.regret is not None)
        pairs = next(s for s in sources if s.pairs)
        alone = {}
        for name, source in (("emotion", emotion), ("anecdotes", anecdotes), ("pairs", pairs)):
            trainer.eval_sources = [source]
            alone[name] = trainer.evaluate()
        trainer.eval_sources = [emotion, anecdotes, pairs]
        together = trainer.evaluate()
    finally:
        trainer.close()
    assert set(alone["pairs"]) == {"pairs", "loss"}
    assert set(alone["emotion"]) == {"emotion", "loss"}
    for task in ("regret", "surd", "bentham"):
        assert together[task] == pytest.approx(alone["anecdotes"][task], rel=1e-5)
    assert together["pairs"] == pytest.approx(alone["pairs"]["pairs"], rel=1e-5)
    n_emotion, n_anecdotes = len(emotion.examples), len(anecdotes.examples)
    expected = (alone["emotion"]["emotion"] * n_emotion +
                alone["anecdotes"]["emotion"] * n_anecdotes) / (n_emotion + n_anecdotes)
    # Loosely: the emotion loss also holds the fine, sentiment and cultural terms, means over
    # their own (fewer) rows, so its row-weighted mean depends a little on how batches fall.
    assert together["emotion"] == pytest.approx(expected, rel=1e-2)
    assert together["loss"] == pytest.approx(sum(v for k, v in together.items() if k != "loss"))
