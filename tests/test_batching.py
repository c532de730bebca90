"""Batches: deterministic for a seed, length-bucketed, weighted, masks follow the data."""

from __future__ import annotations

import pytest
import torch

from redheart.data.batching import BatchPlan, collate_examples, loader, source_lengths


@pytest.fixture(scope="module")
def prepared(quickstart_data):
    """(sources, encoder cache) of the sample set, as the session prepared them: encoding
    it again here took seconds."""
    _, sources, cache = quickstart_data
    return sources, cache


def test_plan_is_a_function_of_seed_and_epoch(prepared):
    sources, cache = prepared
    lengths = source_lengths(sources, cache)
    plan = BatchPlan(lengths, [3.0, 1.0], batch_size=8, seed=7)
    assert plan.epoch(0) == BatchPlan(lengths, [3.0, 1.0], 8, 7).epoch(0)
    assert plan.epoch(0) != plan.epoch(1)
    assert plan.epoch(0) != BatchPlan(lengths, [3.0, 1.0], 8, 8).epoch(0)


def test_weights_set_the_mixture_and_every_row_is_used(prepared):
    sources, cache = prepared
    plan = BatchPlan(source_lengths(sources, cache), [1.0, 0.0], batch_size=8, seed=0)
    batches = plan.epoch(0)
    assert {source for source, _ in batches} == {0}
    first_cycle = sorted(i for _, b in batches[:32] for i in b)   # ceil(255 / 8) batches
    assert first_cycle == list(range(255))          # every row once, then it cycles


def test_length_bucketing_reduces_padding(prepared):
    sources, cache = prepared
    lengths = source_lengths(sources, cache)[0]
    plan = BatchPlan([lengths], [1.0], batch_size=8, seed=0)

    def padding(batches) -> int:
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b)
                   for _, b in batches)

    bucketed = padding(plan.epoch(0))
    shuffled = [(0, list(range(i, min(i + 8, 255)))) for i in range(0, 255, 8)]
    assert bucketed < 0.5 * padding(shuffled)


def test_collated_targets_are_masked_not_invented(prepared):
    sources, cache = prepared
    examples = sources[0].examples
    short = next(e for e in examples if e.regret is None)
    anecdote = next(e for e in examples if e.regret is not None)
    batch = collate_examples([short, anecdote], cache)
    assert batch.present["regret"].tolist() == [False, True]
    assert batch.targets["regret"][0] == 0 and batch.targets["regret"][1] == pytest.approx(
        anecdote.regret)
    assert batch.present["emotion"].tolist() == [True, True]
    assert batch.mask.sum(1).tolist() == [cache.length(short.text), cache.length(anecdote.text)]
    assert batch.inputs.dtype == torch.float32


def test_loader_yields_pair_batches_for_dilemmas(prepared):
    sources, cache = prepared
    plan = BatchPlan(source_lengths(sources, cache), [0.0, 1.0], batch_size=4, seed=0).epoch(0)
    batch = next(iter(loader(sources, cache, plan)))
    assert batch.pair_inputs is not None and batch.less_ethical.shape == (4,)
    assert batch.inputs.shape[0] == batch.pair_inputs.shape[0] == 4
    # resuming at an index replays exactly the batch that index planned
    resumed = next(iter(loader(sources, cache, plan, start=3)))
    direct = list(loader(sources, cache, plan))[3]
    assert torch.equal(resumed.inputs, direct.inputs)


def test_evaluation_plan_covers_every_row_of_every_source_once(prepared):
    sources, cache = prepared
    plan = BatchPlan(source_lengths(sources, cache), [1.0, 1.0], batch_size=64, seed=0)
    batches = plan.every_row_once()
    for source, data in enumerate(sources):
        rows = sorted(i for s, b in batches if s == source for i in b)
        assert rows == list(range(len(data.examples) + len(data.pairs)))


def test_a_weight_is_a_share_of_batches_not_a_per_row_rate():
    """What README's Data section says of `weight`: equal weights give a 1,000-row and a
    100-row source about equal numbers of batches, so the small one is read ~10x an epoch."""
    plan = BatchPlan([[5] * 1000, [5] * 100], [1.0, 1.0], batch_size=10, seed=0)
    batches = [source for epoch in range(20) for source, _ in plan.epoch(epoch)]
    assert len(batches) == 20 * 110                            # all sources' batches
    small = batches.count(1) / len(batches)
    assert abs(small - 0.5) < 0.03                             # half, not 100 / 1100
    assert abs(batches.count(1) / 20 / 10 - 5.5) < 0.4         # passes over the small one
