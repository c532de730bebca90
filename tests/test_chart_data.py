"""The charts' pure parts: the bounded series, TensorBoard's EMA, decimation, log ticks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from redheart.runs.smoothing import ema
from tui.chart_data import decimate, log10_positive, window_start
from tui.log_axis import log_ticks, value_label
from tui.series import Series


def reference_ema(values: list[float], weight: float) -> list[float]:
    """TensorBoard's smoothing loop, written plainly (the vectorised one must agree)."""
    out, last, count = [], 0.0, 0
    for value in values:
        if not math.isfinite(value):
            out.append(math.nan)
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        out.append(last / (1 - weight ** count))
    return out


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000])
def test_ema_matches_tensorboard(weight, n):
    rng = np.random.default_rng(n)
    values = rng.normal(2.0, 1.0, n)
    expected = values if weight == 0 else reference_ema(values.tolist(), weight)
    np.testing.assert_allclose(ema(values, weight), expected, rtol=1e-9, atol=1e-12)


def test_ema_starts_at_the_first_value_and_skips_non_finite():
    smoothed = ema(np.array([4.0, np.nan, 4.0, np.inf, 4.0]), 0.9)
    assert smoothed[0] == pytest.approx(4.0)                # debiased: not 0.4
    assert np.isnan(smoothed[1]) and np.isnan(smoothed[3])
    np.testing.assert_allclose(smoothed[[2, 4]], [4.0, 4.0])  # NaN/inf never enter
    with pytest.raises(ValueError):
        ema(np.ones(3), 1.0)


def test_series_keeps_every_point_until_full_then_coarsens_only_the_old_half():
    series = Series(capacity=16)
    for step in range(16):
        series.append(step, 100.0 + step, float(step))
    assert len(series) == 16 and series.steps.tolist() == list(range(16))
    series.append(16, 116.0, 16.0)              # full: the older 8 become 4 pair means
    assert len(series) == 13
    assert series.steps.tolist() == [1, 3, 5, 7, *range(8, 17)]
    assert series.values.tolist()[:4] == [0.5, 2.5, 4.5, 6.5]
    assert series.times.tolist()[:5] == [101.0, 103.0, 105.0, 107.0, 108.0]
    assert series.last == 16.0
    for step in range(17, 10_000):
        series.append(step, 0.0, 1.0)
    assert len(series) <= 16 and series.steps[-1] == 9_999     # bounded, always current
    assert np.all(np.diff(series.steps) > 0)
    with pytest.raises(ValueError):
        series.steps[0] = 5                     # views are read-only


def test_window_start_keeps_the_last_n_steps():
    steps = np.arange(0, 1000, 10, dtype=float)
    assert window_start(steps, None) == 0
    assert steps[window_start(steps, 100):].tolist() == [900, 910, 920, 930, 940, 950, 960,
                                                         970, 980, 990]   # steps 891-990
    assert window_start(steps, 10**6) == 0


def test_decimate_keeps_each_columns_extremes_and_the_spike():
    x = np.arange(100_000, dtype=float)
    y = np.sin(x / 5000)
    y[54_321] = 50.0                                   # one spike among 100,000 points
    dx, dy = decimate(x, y, 100)
    assert dx.size == dy.size == 200                   # two points per column
    assert dy.max() == 50.0 and dy.min() == pytest.approx(y.min())
    assert np.all(np.diff(dx) >= 0)                    # still drawn left to right
    short_x, short_y = decimate(x[:150], y[:150], 100)  # small enough: untouched
    assert short_x.size == 150


def test_decimate_drops_nan_and_handles_gaps():
    x = np.array([0.0, 1.0, 2.0, 1000.0, 1001.0])
    y = np.array([1.0, np.nan, 3.0, 4.0, 5.0])
    dx, dy = decimate(x, y, 1)
    assert dx.size == 2 and dy.tolist() == [1.0, 5.0]
    dx, dy = decimate(x, y, 100)
    assert dy.tolist() == [1.0, 3.0, 4.0, 5.0]        # few points: all kept, NaN gone


def test_log_axis_ticks_and_labels():
    assert log10_positive(np.array([100.0, 0.0, -1.0]))[0] == 2.0
    assert np.isnan(log10_positive(np.array([0.0, -1.0]))).all()
    ticks = log_ticks(math.log10(0.3), math.log10(40.0))
    assert [value_label(10 ** t) for t in ticks] == ["0.5", "1", "2", "5", "10", "20"]
    decades = log_ticks(-6.0, 2.0)
    assert [value_label(10 ** t) for t in decades] == ["1e-06", "1e-04", "0.01", "1",
                                                       "100"]
    narrow = log_ticks(math.log10(3.1), math.log10(3.9))
    assert len(narrow) >= 2 and all(3.1 - 1e-9 <= 10 ** t <= 3.9 + 1e-9 for t in narrow)
    assert log_ticks(1.0, 1.0) == []
    assert [value_label(v) for v in (1000.0, 25000.0, 2e5, 0.5)] == ["1000", "25000", "2e+05",
                                                                     "0.5"]
