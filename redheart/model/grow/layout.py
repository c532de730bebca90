"""How one tensor dimension is laid out in the grown model: segments, cloned or fixed.

A widened hidden vector of width n becomes k*n holding k block copies
[x, x, ...]. A dimension that concatenates several vectors (an analyzer's
input reads [z, head.hidden, head.raw]) is a list of segments, and each
segment is cloned (tiled k times in place) or fixed (a label-sized width such
as the 7 Ekman logits, copied as it is). Tiling per segment keeps
concatenations in their own order: [z, z, h, h, raw], never [z, h, raw, z, h].

Along an output dimension a cloned segment is tiled: [y, y]. Along a
contracted (input) dimension it is tiled and divided by k, because
[W/k, ..., W/k] . [x, ..., x] = W x: the grown layer computes exactly what
the small one did.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Segment:
    """A run of `size` entries along one dimension of the small tensor."""

    size: int
    cloned: bool


Layout = tuple[Segment, ...]
WHOLE_CLONED = "cloned"
"""A dimension that is one cloned segment (its size is the tensor's)."""
WHOLE_FIXED = "fixed"
"""A dimension that keeps its size (labels, expert count, Kalman state)."""
DimLayout = Layout | str


@dataclass(frozen=True)
class DimRule:
    """How one dimension of a tensor grows."""

    layout: DimLayout
    contracted: bool = False
    """True for a weight's input dimension: cloned segments are divided by k."""


def cloned(size: int) -> Segment:
    return Segment(size, True)


def fixed(size: int) -> Segment:
    return Segment(size, False)


def resolve(layout: DimLayout, size: int, where: str) -> Layout:
    """The layout as segments; a whole-dimension layout takes the tensor's size.

    Explicit segments must add up to the small tensor's size: a rule built
    for another configuration is an error here, not a silently wrong clone.
    """
    if layout == WHOLE_CLONED:
        return (cloned(size),)
    if layout == WHOLE_FIXED:
        return (fixed(size),)
    total = sum(s.size for s in layout)
    if total != size:
        raise ValueError(f"{where}: grow rule segments add up to {total}, the tensor has {size}")
    return layout


def grown_size(layout: Layout, copies: int) -> int:
    return sum(s.size * (copies if s.cloned else 1) for s in layout)


def expand_dim(tensor: torch.Tensor, dim: int, layout: Layout, copies: int,
               contracted: bool) -> torch.Tensor:
    """Tile each cloned segment `copies` times along `dim` (divided by copies if contracted)."""
    pieces = []
    for piece, segment in zip(tensor.split([s.size for s in layout], dim), layout, strict=True):
        if segment.cloned:
            if contracted:
                piece = piece / copies
            piece = torch.cat([piece] * copies, dim)
        pieces.append(piece)
    return torch.cat(pieces, dim)


def copy_slices(layout: Layout, copies: int) -> list[list[slice]]:
    """For each cloned segment, the slices of its copies in the grown dimension."""
    out, start = [], 0
    for segment in layout:
        if segment.cloned:
            out.append([slice(start + i * segment.size, start + (i + 1) * segment.size)
                        for i in range(copies)])
            start += copies * segment.size
        else:
            start += segment.size
    return out
