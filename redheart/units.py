"""Byte units: memory and file sizes are counted in bytes and shown in MiB or GiB.

Torch-free and import-free, so the console's panels and the CLI's tables
show a size the same way the forecast computes it (and an MFU the same way
in the console, `redheart run` and `redheart events`).
"""

from __future__ import annotations

MIB = 2**20
GIB = 2**30


def gib_text(value: float | None) -> str:
    """`1.25 GiB`, or `-` for a figure that was not measured."""
    return "-" if value is None else f"{value / GIB:.2f} GiB"


def mfu_text(mfu: float | None) -> str:
    """`  MFU 4.1%` to follow samples/s, or nothing for a step whose MFU is not known."""
    return "" if mfu is None else f"  MFU {mfu:.1%}"
