"""SURD: synergistic, unique and redundant decomposition of information.

Martinez-Sanchez, Arranz and Lozano-Duran, "Decomposing causality into its
synergistic, unique, and redundant components", Nat. Commun. 15, 9296 (2024).

For each target state t, the specific information every subset of sources
gives about t is ranked; the increments up that ranking are assigned to
redundancy (shared by the sources not yet passed), to unique information
(when one source is left) or to synergy (a combination beating every smaller
one). Weighted by p(t), redundant + unique + synergistic = I(T; X) and the
leak H(T | X) completes the entropy: R + U + S + leak = H(T). Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np


@dataclass(frozen=True)
class SurdResult:
    """Decomposition of H(target) in bits."""

    redundant: float
    unique: float
    synergistic: float
    leak: float
    entropy: float
    unique_by_source: dict[int, float]
    """Unique information per source, keyed by source axis (1-based, as in `p`)."""
    redundant_by_sources: dict[tuple[int, ...], float]
    synergistic_by_sources: dict[tuple[int, ...], float]

    def shares(self) -> tuple[float, float, float, float]:
        """(redundant, unique, synergistic, leak) / H(target): a point on the simplex."""
        if self.entropy <= 0:
            raise ValueError("the target has zero entropy: nothing to decompose")
        total = self.redundant + self.unique + self.synergistic + self.leak
        return (self.redundant / total, self.unique / total, self.synergistic / total,
                self.leak / total)


def _plogq(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """p * log2(q), with 0 where p is 0 (the 0 log 0 = 0 convention)."""
    out = np.zeros(np.broadcast(p, q).shape)
    mask = np.broadcast_to(p > 0, out.shape)
    pb, qb = np.broadcast_to(p, out.shape), np.broadcast_to(q, out.shape)
    out[mask] = pb[mask] * np.log2(qb[mask])
    return out


def decompose(p: np.ndarray) -> SurdResult:
    """SURD of a joint distribution whose axis 0 is the target and the others sources."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim < 2:
        raise ValueError("p needs a target axis and at least one source axis")
    if (p < 0).any() or not np.isfinite(p).all() or p.sum() <= 0:
        raise ValueError("p must be non-negative, finite and not all zero")
    p = p / p.sum()
    sources = tuple(range(1, p.ndim))
    p_t = p.sum(axis=sources, keepdims=True)                     # p(t)
    entropy = float(-_plogq(p_t, p_t).sum())
    p_x = p.sum(axis=0, keepdims=True)                           # p(x_all)
    leak = float(-_plogq(p, np.divide(p, p_x, out=np.zeros_like(p), where=p_x > 0)).sum())

    subsets = [s for size in sources for s in combinations(sources, size)]
    specific = {}                                                # subset -> I(t; X_s) per t
    for subset in subsets:
        others = tuple(a for a in sources if a not in subset)
        p_ts = p.sum(axis=others, keepdims=True)                 # p(t, x_s)
        p_s = p_ts.sum(axis=0, keepdims=True)                    # p(x_s)
        p_s_given_t = np.divide(p_ts, p_t, out=np.zeros_like(p_ts), where=p_t > 0)
        p_t_given_s = np.divide(p_ts, p_s, out=np.zeros_like(p_ts), where=p_s > 0)
        ratio = np.divide(p_t_given_s, p_t, out=np.ones_like(p_ts), where=p_t_given_s > 0)
        specific[subset] = _plogq(p_s_given_t, ratio).sum(axis=subset).ravel()

    redundant: dict[tuple[int, ...], float] = {}
    synergistic: dict[tuple[int, ...], float] = {}
    weights = p_t.ravel()
    for t in range(p.shape[0]):
        info = np.array([specific[s][t] for s in subsets])
        sizes = np.array([len(s) for s in subsets])
        # A combination only adds synergy beyond the best smaller combination.
        for size in range(2, sizes.max() + 1):
            best_smaller = info[sizes == size - 1].max()
            info[(sizes == size) & (info < best_smaller)] = 0.0
        order = np.argsort(info, kind="stable")
        steps = np.diff(info[order], prepend=0.0)
        remaining = list(sources)
        for index, step in zip(order, steps, strict=True):
            amount = float(step * weights[t])
            subset = subsets[index]
            if len(subset) == 1:
                key = tuple(remaining)
                redundant[key] = redundant.get(key, 0.0) + amount
                remaining.remove(subset[0])
            else:
                synergistic[subset] = synergistic.get(subset, 0.0) + amount

    unique_by_source = {s: redundant.get((s,), 0.0) for s in sources}
    shared = {k: v for k, v in redundant.items() if len(k) > 1}
    return SurdResult(
        redundant=sum(shared.values()), unique=sum(unique_by_source.values()),
        synergistic=sum(synergistic.values()), leak=max(leak, 0.0), entropy=entropy,
        unique_by_source=unique_by_source, redundant_by_sources=shared,
        synergistic_by_sources=synergistic,
    )
