"""The FLOP model of a training step: the polynomial in the padded length, call by call, and
the same counts on meta (a GPU run's model) as on CPU (small models). Against torch's own
FlopCounterMode on real steps: tests/test_mfu.py."""

from __future__ import annotations

import pytest

from redheart.config import TrainConfig
from redheart.train import flops
from redheart.train.flops import PassFlops


def test_fit_calls_finds_each_calls_power_of_the_length():
    long = [("mm", 7), ("mm", 3 * 40), ("bmm", 5 * 40 * 40), ("conv", 2 * 41)]
    short = [("mm", 7), ("mm", 3 * 20), ("bmm", 5 * 20 * 20), ("conv", 2 * 21)]
    fitted = flops.fit_calls(long, short, 40, 20)
    assert fitted == PassFlops(7 + 2, 3 + 2, 5)     # conv over L + 1: the line 2 + 2L
    with pytest.raises(flops.FlopCountError):
        flops.fit_calls(long, short[:-1], 40, 20)


def test_meta_and_cpu_counts_are_the_same(tiny_config):
    """The meta count (a GPU run's 329M model) and the CPU count (small models) agree."""
    kind = ("emotion", "regret")
    on_meta, on_cpu = (flops.StepFlops(tiny_config, None, 2, 32, TrainConfig(), device)
                       for device in ("meta", "cpu"))
    assert on_meta.of(kind) == on_cpu.of(kind) and on_cpu.of(kind).quadratic > 0
