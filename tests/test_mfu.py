"""MFU of each step: the arithmetic on known counts, a failed count, the FLOP model against
torch's FlopCounterMode on real training steps, and how MFU is shown."""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from redheart.config import TrainConfig
from redheart.data.batching import Batch, loader
from redheart.render.event_lines import event_line
from redheart.train import flops
from redheart.train.flops import PassFlops
from redheart.train.mfu import MfuMeter, mfu
from redheart.train.peak_flops import Peak, resolve_peak
from tests.conftest import make_trainer
from tui.run_view import RunView
from tui.widgets.loss_panel import figures


def _batch(rows: int, tokens: int, pair_tokens: int | None = None) -> Batch:
    ids = torch.zeros(rows, tokens, dtype=torch.long)
    mask = torch.ones(rows, tokens, dtype=torch.bool)
    if pair_tokens is None:
        return Batch(ids, mask, {"emotion": torch.zeros(rows, 28)})
    return Batch(ids, mask, pair_inputs=torch.zeros(rows, pair_tokens, dtype=torch.long),
                 pair_mask=torch.ones(rows, pair_tokens, dtype=torch.bool))


def test_mfu_of_a_step_is_its_flops_over_its_seconds_and_the_peak(monkeypatch):
    assert mfu(3e12, 2.0, 1.5) == pytest.approx(1.0)
    assert mfu(3e12, 2.0, 1.5, world=2) == pytest.approx(0.5)    # the job's FLOPs, 2 devices
    counted = {("emotion",): PassFlops(100.0, 10.0, 1.0), flops.PAIRS: PassFlops(50.0, 5.0, 0.5)}
    model = flops.StepFlops(None, None, 1, 0, TrainConfig(), "cpu")
    monkeypatch.setattr(flops, "_count_kind", lambda _, kind: counted[kind])
    meter = MfuMeter(Peak(1e-9, "test"), model)                  # 1,000 FLOP/s
    meter._forward(None, (_batch(4, 20),))          # a skipped step's pass, before the step
    meter._forward(None, (_batch(4, 8),))           # 4 * (100 + 80 + 64) = 976
    meter._forward(None, (_batch(2, 6, 4),))        # 2 * ((50+30+18) + (50+20+8)) = 352
    with torch.no_grad():
        meter._forward(None, (_batch(8, 8),))       # evaluation: not training FLOPs
    assert meter.step(2.0, rows=6) == pytest.approx(1328 / 2.0 / 1000)
    assert meter.step(2.0, rows=6) is None          # each pass counts for one step only
    warned = []
    no_peak = MfuMeter(Peak(None, None, "no peak"), model, warn=warned.append)
    no_peak._forward(None, (_batch(4, 8),))
    assert no_peak.step(1.0, rows=4) is None and warned == []   # run.py said it, once


def test_a_failed_count_is_one_warning_and_null_mfu(monkeypatch):
    def fail(_flops, _kind):
        raise NotImplementedError("no meta kernel")

    monkeypatch.setattr(flops, "_count_kind", fail)
    warned = []
    meter = MfuMeter(Peak(1.0, "test"), flops.StepFlops(None, None, 1, 0, TrainConfig(), "cpu"),
                     warn=warned.append)
    for _ in range(2):
        meter._forward(None, (_batch(4, 8),))
        assert meter.step(1.0, rows=4) is None
    assert warned == ["MFU is not reported: counting the step's FLOPs failed "
                      "(NotImplementedError: no meta kernel)"]


def test_run_started_says_why_an_unknown_gpu_has_no_mfu():
    unknown = resolve_peak("cuda", "NVIDIA Mystery 9000", "bf16", 0.0)
    fields = MfuMeter(unknown, None).start_fields()
    assert fields["peak_tflops"] is None and fields["peak_source"] is None
    assert fields["mfu_unavailable"] == unknown.problem     # and, once, a warning (run.py)


@pytest.fixture(scope="module")
def counted_trainer(quickstart_data, tmp_path_factory):
    """The quickstart trainer, and batches of its first epoch of each kind (dilemma pairs,
    or the target fields they carry), none padded to a counted length."""
    trainer = make_trainer(quickstart_data, tmp_path_factory.mktemp("mfu"))
    found: dict[flops.Kind, Batch] = {}
    for batch in loader(trainer.train_sources, trainer.featurizer, trainer.plan.epoch(0)):
        if batch.inputs.shape[1] not in (128, 64):
            found.setdefault(flops.batch_kind(batch), batch)
    yield trainer, found
    trainer.close()


def test_the_flop_model_is_flopcountermode_on_real_steps(counted_trainer):
    """Real training steps at lengths that were not counted, noted by the trainer's hook:
    the polynomials give what FlopCounterMode counts (attention as math: torch has no
    formula for the CPU flash kernel). A dilemma batch runs the model twice; a batch
    without regret targets trains no regret head."""
    trainer, batches = counted_trainer
    assert flops.PAIRS in batches and len(batches) >= 3, list(batches)
    assert trainer.mfu.flops.device == "cpu" and trainer.mfu.peak.tflops > 0
    for kind, batch in batches.items():
        pair = batch.pair_inputs.shape[1] if batch.pair_inputs is not None else None
        trainer.mfu.flops.forward(1, kind, batch.inputs.shape[1], pair)  # counted before
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            result = trainer.train_step(batch)     # its mfu: its FLOPs over its seconds
        expected = mfu(counter.get_total_flops(), result.seconds, trainer.mfu.peak.tflops)
        assert result.mfu == pytest.approx(expected, rel=1e-9), kind
        assert 0 < result.mfu < 1


def test_mfu_is_shown_next_to_samples_per_second_and_not_when_unknown():
    step = {"type": "step", "step": 3, "epoch": 0, "loss": {"total": 1.0}, "lr": 1e-4,
            "grad_norm": 1.0, "samples_per_s": 12.3, "tokens_per_s": 99.0, "mfu": 0.041}
    view = RunView()
    view.apply([step])
    assert "12.3 samples/s  MFU 4.1%" in figures(view)
    assert "12.3 samples/s  MFU 4.1%" in event_line(step)
    view.apply([{**step, "mfu": None}])
    assert "MFU" not in figures(view) and "MFU" not in event_line({**step, "mfu": None})
