"""Per-module gradient norms: the median, the trend and the 10x jump the panel marks."""

from __future__ import annotations

import math

from tui.grad_norms import TREND, GradNorms, jump_ratio


def test_jump_ratio_needs_history_and_more_than_ten_times_the_median():
    assert jump_ratio([1.0, 1.0], 50.0) is None               # too little history
    assert jump_ratio([1.0, 2.0, 3.0], 20.0) is None           # 10x the median of 2: not over
    assert jump_ratio([1.0, 2.0, 3.0], 20.5) == 10.25
    assert jump_ratio([1.0, 1.0, 1.0], math.nan) == math.inf   # a non-finite norm is a jump
    assert jump_ratio([0.0, 0.0, 0.0], 0.0) is None


def test_a_non_finite_norm_is_a_jump_and_stays_out_of_the_median():
    norms = GradNorms()
    for step in range(1, 5):
        norms.add(step, {"surd_head": 2.0})
    norms.add(5, {"surd_head": math.inf})
    norms.add(6, {"surd_head": 2.0})
    [row] = norms.rows()
    assert row.jump == math.inf and row.jump_step == 5
    assert row.median == 2.0 and math.isinf(row.trend[-2])


def test_a_module_that_jumps_is_marked_while_the_jump_is_in_its_trend():
    norms = GradNorms()
    for step in range(1, 11):
        norms.add(step, {"backbone": 1.0 + step / 100, "emotion_head": 0.5})
    norms.add(11, {"backbone": 1.1, "emotion_head": 6.0})      # 12x its median of 0.5
    rows = {row.name: row for row in norms.rows()}
    assert list(rows) == ["backbone", "emotion_head"]          # the model's order
    head = rows["emotion_head"]
    assert head.last == 6.0 and head.median == 0.5 and head.jump == 12.0
    assert head.jump_step == 11 and len(head.trend) == 11
    assert rows["backbone"].jump is None
    assert norms.jumping == ["emotion_head"]
    for step in range(12, 12 + TREND - 1):      # back to normal: the spike is still in view
        norms.add(step, {"emotion_head": 0.5})
    assert norms.jumping == ["emotion_head"] and norms.rows()[1].jump_step == 11
    norms.add(12 + TREND, {"emotion_head": 0.5})               # scrolled out of the trend
    assert norms.jumping == [] and len(norms.rows()[1].trend) == TREND


def test_the_median_is_over_batches_of_the_same_kind():
    """Each batch comes from one source: the emotion head's gradient on a dilemma-pair batch
    is a hundredth of its gradient on a GoEmotions batch. Neither is a jump; a GoEmotions
    batch ten times the GoEmotions median is, and the median shown is the one it was
    judged against."""
    pairs, emotion = ("bentham", "moe"), ("emotion", "moe")
    norms = GradNorms()
    for step in range(1, 13):
        kind = pairs if step % 3 else emotion
        norms.add(step, {"emotion_head": 0.02 if kind == pairs else 2.0}, kind=kind)
    [row] = norms.rows()
    assert row.jump is None and norms.jumping == []
    assert row.median == 2.0 and row.last == 2.0            # step 12 was a GoEmotions batch
    norms.add(13, {"emotion_head": 0.02}, kind=pairs)
    assert norms.rows()[0].median == 0.02
    norms.add(14, {"emotion_head": 25.0}, kind=emotion)       # 12.5x the GoEmotions median
    [row] = norms.rows()
    assert (row.jump, row.jump_step, row.median) == (12.5, 14, 2.0)
    # the same norms without kinds, as one stream, were a jump on every GoEmotions batch
    mixed = GradNorms()
    for step in range(1, 13):
        mixed.add(step, {"emotion_head": 0.02 if step % 3 else 2.0})
    assert mixed.jumping == ["emotion_head"]


def test_the_console_reads_each_steps_kind_from_its_losses():
    """RunView passes the tasks of a step's losses as its kind: a run whose GoEmotions
    batches have a hundred times the emotion-head norm of its dilemma batches is calm."""
    from tui.run_view import RunView

    view = RunView()
    events = []
    for step in range(1, 13):
        pair = step % 3 != 0
        loss = {"bentham": 0.1, "moe": 0.01, "total": 0.11} if pair else \
            {"emotion": 2.0, "moe": 0.01, "total": 2.01}
        events.append({"v": 1, "seq": step, "t": 1000.0 + step, "type": "step", "step": step,
                       "epoch": 0, "loss": loss, "lr": 1e-3, "grad_norm": 1.0,
                       "grad_norm_by_module": {"emotion_head": 0.02 if pair else 2.0}})
    view.apply(events)
    assert view.grads.jumping == []
    [row] = view.grads.rows()
    assert row.median == 2.0


def test_norms_fit_their_7_cell_columns_with_3_significant_digits():
    """`:.3g` wrote a small norm as `1.23e-05` (8 cells): the row's median and trend moved
    one cell right of the header's columns."""
    from tui.grad_norms import ModuleNorms
    from tui.widgets import gradients_panel
    from tui.widgets.gradients_panel import HEADER, NAME_WIDTH, row_text

    row = row_text(ModuleNorms("emotion_head", 1.234e-05, 2.346e-06, (1.0, 2.0), None, None))
    median_end = HEADER.index("median") + len("median")
    assert row.plain[NAME_WIDTH + 1:median_end] == "1.23e-5 2.35e-6"
    for value in (6.45, 0.0193, 1.234e-05, 0.000123, 123456.0, 1.5e-12, float("inf"), 0.0):
        assert len(gradients_panel.norm_text(value)) <= 7, value
    assert gradients_panel.norm_text(0.0193) == "0.0193"
