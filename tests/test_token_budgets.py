"""Per-source token budgets: head+tail truncation, one cache per budget, a batch read with
its source's budget, and the longest budget for what has no source (memory, predict)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from redheart.config import DataConfig, DataSource, longest_budget, token_budget
from redheart.config_load import load_profile
from redheart.data.bad_rows import DataError
from redheart.data.batching import BatchPlan, loader, source_lengths
from redheart.data.encode import EncoderCache, SourceFeaturizers, cache_for
from redheart.data.encoder import TextEncoder, load_tokenizer, tokenize
from redheart.data.prepare import prepare
from tests.conftest import TEST_TEXTS

WORDS = ("the cat sat on a mat and then my dog ran to see what was going on in the "
         "house before we all went out for dinner").split()
"""Twenty-four words that are each one token of the MiniLM (BERT uncased) vocabulary."""

ANECDOTE = ("AITA for keeping the money? " + "My friend lent me some money last year and "
            "then we stopped talking for a long time. " * 6 + "So, am I the asshole here?")
"""A long anecdote, written for this test: title, a long middle, the question at the end."""


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("all-MiniLM-L6-v2")


def test_head_tail_keeps_the_first_and_last_tokens_of_known_ids(tokenizer):
    ids = tokenizer.convert_tokens_to_ids(WORDS)         # the vocabulary's ids, not tokenize's
    assert len(set(ids)) > 20 and tokenizer.unk_token_id not in ids
    cls, sep, pad = 101, 102, 0                         # [CLS], [SEP], [PAD] of the vocabulary
    text = " ".join(WORDS)
    got, mask = tokenize(tokenizer, [text, "the cat"], 10, "head_tail")
    assert got[0].tolist() == [cls, *ids[:4], *ids[-4:], sep]       # 8 of room: 4 + 4
    assert got[1].tolist() == [cls, ids[0], ids[1], sep] + [pad] * 6
    assert mask.tolist() == [[True] * 10, [True] * 4 + [False] * 6]
    odd, _ = tokenize(tokenizer, [text], 9, "head_tail")          # 7 of room: 4 head, 3 tail
    assert odd[0].tolist() == [cls, *ids[:4], *ids[-3:], sep]
    head, _ = tokenize(tokenizer, [text], 10, "head")
    assert head[0].tolist() == [cls, *ids[:8], sep]
    whole, _ = tokenize(tokenizer, [text], 64, "head_tail")       # fits: nothing is cut
    assert whole[0].tolist() == [cls, *ids, sep]


def test_a_text_that_fits_is_the_same_in_both_modes(tokenizer):
    head = tokenize(tokenizer, TEST_TEXTS, 32, "head")
    head_tail = tokenize(tokenizer, TEST_TEXTS, 32, "head_tail")
    assert torch.equal(head[0], head_tail[0]) and torch.equal(head[1], head_tail[1])


def test_a_cache_is_never_served_for_another_budget(tmp_path, encoder):
    cache = EncoderCache(tmp_path, "all-MiniLM-L6-v2", 32)
    assert cache.fill([ANECDOTE, TEST_TEXTS[0]], encoder=encoder) == 2
    head_tail = EncoderCache(tmp_path, "all-MiniLM-L6-v2", 32, truncation="head_tail")
    shorter = EncoderCache(tmp_path, "all-MiniLM-L6-v2", 16)
    for other in (head_tail, shorter):
        assert len(other) == 0 and ANECDOTE not in other and other.dir != cache.dir
    assert cache.dir.name.endswith("-t32") and head_tail.dir.name.endswith("-t32-head_tail")
    assert head_tail.fill([ANECDOTE], encoder=encoder) == 1       # the encoder's own is head
    states = head_tail.get(ANECDOTE).astype(np.float32)
    expected, _ = encoder.encode([ANECDOTE], 32, "head_tail")
    assert states.shape == (32, 384)
    assert np.allclose(states, expected[0].numpy(), atol=2e-3)
    head_states = EncoderCache(tmp_path, "all-MiniLM-L6-v2", 32).get(ANECDOTE)
    assert not np.allclose(states[-8:], head_states[-8:].astype(np.float32), atol=0.05)


def _two_source_profile(tmp_path, trainable: bool = False):
    """Short texts at [data] max_tokens 16, long anecdotes at 40 tokens, head_tail."""
    (tmp_path / "short.jsonl").write_text("".join(
        json.dumps({"text": t, "emotion": "joy"}) + "\n" for t in TEST_TEXTS[:6]))
    votes = {"AUTHOR": 1, "OTHER": 4, "EVERYBODY": 0, "NOBODY": 2, "INFO": 0}
    (tmp_path / "anecdotes.jsonl").write_text("".join(
        json.dumps({"title": f"AITA number {i}?", "text": ANECDOTE, "label_scores": votes})
        + "\n" for i in range(5)))
    (tmp_path / "profile.toml").write_text(
        f'[data]\ncache_dir = "{tmp_path / "cache"}"\nmax_tokens = 16\n'
        f'encoder_trainable = {str(trainable).lower()}\n\n'
        '[[data.sources]]\nkind = "jsonl"\npath = "short.jsonl"\n\n'
        '[[data.sources]]\nkind = "scruples_anecdotes"\npath = "anecdotes.jsonl"\n'
        'max_tokens = 40\ntruncation = "head_tail"\n')
    return load_profile(tmp_path / "profile.toml")


def test_each_source_is_cached_and_batched_with_its_own_budget(tmp_path, encoder):
    config = _two_source_profile(tmp_path)
    report = prepare(config, tmp_path)
    assert [(c.budget.max_tokens, c.budget.truncation, c.encoded) for c in report.caches] == [
        (16, "head", 6), (40, "head_tail", 5)]
    assert prepare(config, tmp_path).encoded == 0
    short, anecdotes = report.sources
    assert cache_for(config, anecdotes.source).dir == report.caches[1].dir
    featurizers = SourceFeaturizers(config)
    plan = BatchPlan(source_lengths(report.sources, featurizers), [1.0, 1.0], 3, seed=0)
    assert sorted(plan.lengths[1]) == [40] * 5
    assert max(plan.lengths[0]) == 16
    widths: dict[int, set[int]] = {0: set(), 1: set()}
    planned = plan.every_row_once()
    for (source, rows), batch in zip(planned, loader(report.sources, featurizers, planned),
                                     strict=True):
        widths[batch.source].add(batch.mask.shape[1])
        if source == 1:          # the states of its own cache: 40 tokens, head + tail
            expected, _ = encoder.encode([anecdotes.examples[rows[0]].text], 40, "head_tail")
            assert torch.allclose(batch.inputs[0], expected[0].half().float(), atol=1e-6)
    assert max(widths[0]) <= 16 and widths[1] == {40}


def test_the_probes_read_each_text_from_its_own_sources_budget(tmp_path, encoder):
    """Caches are shared across profiles: one that read the anecdotes at 16 tokens head
    left them in the 16-token cache, which the probes' lookup used to answer first."""
    config = _two_source_profile(tmp_path)
    short, anecdotes = prepare(config, tmp_path).sources
    text = anecdotes.examples[0].text
    other_profile = cache_for(config, short.source)             # 16 tokens, head
    assert other_profile.fill([text], encoder=encoder) == 1
    states = SourceFeaturizers(config, read=[short, anecdotes]).get(text).astype(np.float32)
    expected, _ = encoder.encode([text], 40, "head_tail")
    assert states.shape == (40, 384)
    assert np.allclose(states, expected[0].numpy(), atol=2e-3)
    assert SourceFeaturizers(config, read=[short, anecdotes]).get(TEST_TEXTS[0]).shape[0] <= 16
    with pytest.raises(DataError, match="a text of no source"):
        SourceFeaturizers(config, read=[short]).get(text)


def test_a_trained_encoder_tokenises_each_source_with_its_budget(tmp_path, tokenizer):
    config = _two_source_profile(tmp_path, trainable=True)
    report = prepare(config, tmp_path)
    assert report.caches == []
    featurizers = SourceFeaturizers(config)
    plan = BatchPlan(source_lengths(report.sources, featurizers), [1.0, 1.0], 5, seed=0)
    planned = plan.every_row_once()
    for (source, rows), batch in zip(planned, loader(report.sources, featurizers, planned),
                                     strict=True):
        assert batch.inputs.dtype == torch.long
        if source == 0:
            assert batch.inputs.shape[1] <= 16
            continue
        ids = tokenizer(report.sources[1].examples[rows[0]].text)["input_ids"]
        assert len(ids) > 100
        assert batch.inputs[0].tolist() == ids[:20] + ids[-20:]    # [CLS] 19 ... 19 [SEP]


def test_the_longest_budget_is_the_worst_case_and_what_predict_reads():
    data = DataConfig(max_tokens=128, sources=(
        DataSource(kind="goemotions", path="g.tsv"),
        DataSource(kind="scruples_anecdotes", path="a.jsonl", max_tokens=256,
                   truncation="head_tail"),
        DataSource(kind="scruples_dilemmas", path="d.jsonl", max_tokens=256)))
    assert token_budget(data, data.sources[0]) == token_budget(data, data.sources[0])
    assert (token_budget(data, data.sources[0]).max_tokens,
            token_budget(data, data.sources[0]).truncation) == (128, "head")
    longest = longest_budget(data)
    assert (longest.max_tokens, longest.truncation) == (256, "head_tail")   # first of a tie
    plain = longest_budget(DataConfig(max_tokens=64, truncation="head_tail"))
    assert (plain.max_tokens, plain.truncation) == (64, "head_tail")


def test_the_memory_forecast_plans_for_the_longest_source(tiny_config):
    import dataclasses

    from redheart.config import Config, TrainConfig
    from redheart.memory.forecast import forecast

    model = dataclasses.replace(tiny_config, modules=())
    source = DataSource(kind="jsonl", path="x.jsonl")
    short = Config(model=model, train=TrainConfig(batch_size=4, loss_weighting="fixed"),
                   data=DataConfig(max_tokens=16, sources=(source,)))
    long = dataclasses.replace(short, data=dataclasses.replace(
        short.data, sources=(source, dataclasses.replace(source, max_tokens=64))))
    same = dataclasses.replace(short, data=DataConfig(max_tokens=64, sources=(source,)))
    assert forecast(long, "cpu").tokens == 64
    assert forecast(long, "cpu").total == forecast(same, "cpu").total
    assert forecast(long, "cpu").total > forecast(short, "cpu").total


def test_encoder_override_does_not_change_its_own_budget(encoder):
    assert isinstance(encoder, TextEncoder) and encoder.max_tokens == 32
    states, mask = encoder.encode([ANECDOTE], 20, "head_tail")
    assert mask.shape == (1, 20) and encoder.encode([ANECDOTE])[1].shape == (1, 32)
