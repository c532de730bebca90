"""TensorBoard's loss smoothing, shared by the console's charts and `redheart plot`.

Pure numpy. A 100,000-step history must be smoothed in a few milliseconds
(the console redraws within 50 ms), so nothing here loops in Python per
point: the EMA runs in blocks.
"""

from __future__ import annotations

import numpy as np

DEFAULT_SMOOTHING = 0.6
"""TensorBoard's default weight: what the console and `redheart plot` start with."""

_BLOCK = 64
"""EMA block length: short enough that weight**BLOCK never underflows for the
weights a user picks (0.999**64 = 0.94), long enough that the Python loop over
blocks is ~1,600 turns for 100,000 points."""


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: last = weight*last + (1-weight)*x from last = 0, divided
    by 1 - weight**n so the first points are not pulled towards zero. Non-finite values
    are left out of the average and come back as NaN (the chart drops them)."""
    return ema_continued(values, weight)[0]


def ema_continued(values: np.ndarray, weight: float, last: float = 0.0,
                  count: int = 0) -> tuple[np.ndarray, float, int]:
    """`ema` of points that follow `count` finite ones whose undivided average was `last`;
    returns the smoothed points and the new (last, count), so a chart extends its curve
    by the points that arrived instead of smoothing the whole run on every redraw."""
    values = np.asarray(values, dtype=float)
    if weight <= 0 or values.size == 0:
        return values.copy(), last, count
    if not 0 < weight < 1:
        raise ValueError(f"smoothing weight {weight} is not in [0, 1)")
    finite = np.isfinite(values)
    x = values[finite]
    if x.size == 0:
        return np.full(values.shape, np.nan), last, count
    raw = _ema_raw(x, weight, last)
    debias = -np.expm1(np.arange(count + 1, count + x.size + 1) * np.log(weight))
    out = np.full(values.shape, np.nan)
    out[finite] = raw / debias
    return out, float(raw[-1]), count + x.size


def _ema_raw(x: np.ndarray, weight: float, start: float) -> np.ndarray:
    """s[i] = weight*s[i-1] + (1-weight)*x[i], s[-1] = start, a block at a time: within
    a block it is a product with a lower-triangular matrix of powers, and each block
    starts from the one before through weight**(i+1)."""
    n = x.size
    blocks = -(-n // _BLOCK)
    padded = np.zeros(blocks * _BLOCK)
    padded[:n] = x
    lag = np.arange(_BLOCK)[:, None] - np.arange(_BLOCK)[None, :]
    kernel = np.where(lag >= 0, (1 - weight) * weight ** np.maximum(lag, 0), 0.0)
    within = padded.reshape(blocks, _BLOCK) @ kernel.T
    decay = weight ** _BLOCK
    block_start, previous = np.empty(blocks), start
    for index, local_end in enumerate(within[:, -1].tolist()):   # one float a block
        block_start[index] = previous
        previous = local_end + decay * previous
    within += block_start[:, None] * weight ** np.arange(1, _BLOCK + 1)[None, :]
    return within.reshape(-1)[:n]
