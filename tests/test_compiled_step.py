"""`[train] compile`: padding, equality with eager, and a failed compilation.

The compiled runs here use dynamo with its "eager" backend: graph capture,
guards and recompilation are torch.compile's own, and only inductor's code
generation is left out, which takes about a minute on two CPU cores even for
the smallest model. `bench/compile_cpu.py` compares inductor with eager.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from redheart.data.batching import Batch, loader
from redheart.train import compiled_step
from redheart.train.compiled_step import graph_lengths, padded
from tests.conftest import make_trainer


def test_graph_lengths_are_powers_of_two_and_the_longest_budget():
    assert graph_lengths(128) == [32, 64, 128]
    assert graph_lengths(384) == [32, 64, 128, 256, 384]
    assert graph_lengths(20) == [20]


def test_each_action_is_padded_to_its_own_graph_length_and_targets_are_left_alone():
    inputs = torch.arange(2 * 40 * 3, dtype=torch.float32).view(2, 40, 3)
    mask = torch.ones(2, 40, dtype=torch.bool)
    # a dilemma batch collates its second actions on their own: here longer than the first's
    # graph length, which must not cut them
    second = torch.arange(2 * 100 * 3, dtype=torch.float32).view(2, 100, 3)
    batch = Batch(inputs, mask, {"regret": torch.tensor([0.1, 0.9])},
                  {"regret": torch.tensor([True, False])},
                  pair_inputs=second, pair_mask=torch.ones(2, 100, dtype=torch.bool),
                  less_ethical=torch.tensor([0, 1]))
    out = padded(batch, [32, 64, 128])
    assert out.inputs.shape == (2, 64, 3) and out.pair_inputs.shape == (2, 128, 3)
    assert torch.equal(out.inputs[:, :40], inputs) and not out.inputs[:, 40:].any()
    assert torch.equal(out.pair_inputs[:, :100], second) and not out.pair_inputs[:, 100:].any()
    assert out.mask[:, :40].all() and not out.mask[:, 40:].any()
    assert out.pair_mask[:, :100].all() and not out.pair_mask[:, 100:].any()
    assert out.targets is batch.targets and out.present is batch.present


def _no_dropout(data):
    config, sources, featurizer = data
    model = dataclasses.replace(config.model, dropout=0.0, attention_dropout=0.0)
    return dataclasses.replace(config, model=model), sources, featurizer


def _steps(trainer, count: int = 3):
    batches = loader(trainer.train_sources, trainer.featurizer, trainer.plan.epoch(0))
    return [trainer.train_step(b) for b, _ in zip(batches, range(count), strict=False)]


@pytest.fixture(scope="module")
def eager_steps(quickstart_data, tmp_path_factory):
    """Three eager steps of two micro-batches each (each a slice weighed against the whole
    batch's counts), dropout off: what a compiled trainer must reproduce."""
    trainer = make_trainer(_no_dropout(quickstart_data), tmp_path_factory.mktemp("eager"),
                           grad_accum=2)
    return _steps(trainer)


@pytest.fixture()
def dynamo_only(monkeypatch):
    torch._dynamo.reset()
    monkeypatch.setattr(compiled_step, "COMPILE_BACKEND", "eager")
    yield
    torch._dynamo.reset()


def test_a_compiled_step_trains_like_an_eager_one(tmp_path, quickstart_data, eager_steps,
                                                 dynamo_only):
    eager = eager_steps
    trainer = make_trainer(_no_dropout(quickstart_data), tmp_path / "compiled", compile=True,
                           grad_accum=2)
    seen = []
    prepare = trainer.compiler.prepare
    trainer.compiler.prepare = lambda batch: seen.append(b := prepare(batch)) or b
    compiled = _steps(trainer)
    lengths = {b.inputs.shape[1] for b in seen}
    assert lengths and lengths <= set(trainer.compiler.lengths), lengths
    assert trainer.compiler.active
    for a, b in zip(eager, compiled, strict=True):
        assert b.loss.keys() == a.loss.keys()
        for name in a.loss:
            assert b.loss[name] == pytest.approx(a.loss[name], rel=1e-5, abs=1e-6), name
        assert b.grad_norm == pytest.approx(a.grad_norm, rel=1e-5)


def test_a_failed_compilation_warns_and_trains_eagerly(tmp_path, quickstart_data, eager_steps,
                                                      monkeypatch):
    def broken(graph, example_inputs):
        raise RuntimeError("no C++ compiler on this machine")

    torch._dynamo.reset()
    monkeypatch.setattr(compiled_step, "COMPILE_BACKEND", broken)
    eager = eager_steps[:2]
    trainer = make_trainer(_no_dropout(quickstart_data), tmp_path / "compiled", compile=True,
                           grad_accum=2)
    fallen = _steps(trainer, 2)
    trainer.events.close()
    torch._dynamo.reset()
    assert not trainer.compiler.active
    warnings = [e for e in map(json.loads, (tmp_path / "compiled" / "events.jsonl").open())
                if e["type"] == "warning"]
    assert len(warnings) == 1
    assert "torch.compile failed" in warnings[0]["message"]
    assert "no C++ compiler on this machine" in warnings[0]["message"]
    assert "[train] compile = false" in warnings[0]["message"]
    assert [r.loss for r in fallen] == [r.loss for r in eager]
