"""A training step reads its computed values back to the host once.

On a GPU every read of a device value waits for all the work queued before
it. This machine has no GPU, so the test counts the reads themselves: every
floating-point tensor a step computes (losses, gradient norms) lives on the
device in a GPU run, while the integer counts it reads (tokens, labelled
rows) are of the batch, which the step reads on the host before moving it.
AdamW's step counters are host tensors on a GPU too, so its reads are not
counted.
"""

from __future__ import annotations

import math

import torch

from redheart.data.batching import loader
from tests.conftest import make_trainer

READS = ("tolist", "item", "__float__", "__bool__", "__int__", "__index__")


def test_one_host_read_of_computed_values_per_step(tmp_path, quickstart_data, monkeypatch):
    trainer = make_trainer(quickstart_data, tmp_path / "run", grad_accum=2)
    batches = loader(trainer.train_sources, trainer.featurizer, trainer.plan.epoch(0))
    batches = iter(batches)
    trainer.train_step(next(batches))   # warm-up: lazy set-up may read anything once
    second = next(batches)
    reads: list[str] = []
    counting = [True]
    for name in READS:
        original = getattr(torch.Tensor, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            if counting[0] and self.is_floating_point():
                reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, spy)
    step = trainer.optimizer.step

    def uncounted_step(*args, **kwargs):
        counting[0] = False
        try:
            return step(*args, **kwargs)
        finally:
            counting[0] = True

    monkeypatch.setattr(trainer.optimizer, "step", uncounted_step)
    result = trainer.train_step(second)
    monkeypatch.undo()
    assert reads == ["tolist"], reads
    assert not result.skipped and math.isfinite(result.loss["total"])
    assert result.module_grad_norms and result.grad_norm > 0
