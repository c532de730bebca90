"""Rich rendering of `redheart diff`."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from redheart.config_keys import spell_value
from redheart.render.stdout_console import stdout_console

KEY_ROOM_FOR_VALUES = 30
"""Columns kept for the two values (and the table's padding) beside the config keys."""


def _metric(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"
    return str(value)


def _setting(value: Any) -> str:
    """As a profile spells it; "-" for a key the run's schema did not have."""
    if isinstance(value, list):
        return "[" + ", ".join(_setting(v) for v in value) + "]"
    return "-" if value is None else spell_value(value)


def print_diff(result: dict[str, Any], console: Console | None = None) -> None:
    """The differing config keys, then the metrics side by side."""
    console = console or stdout_console()
    a, b = result["runs"]["a"], result["runs"]["b"]
    console.print(f"A: {a}\nB: {b}", markup=False, highlight=False, soft_wrap=True)  # whole paths
    if result["config"]:
        table = Table(title="config keys that differ", title_justify="left",
                      box=box.SIMPLE_HEAD)
        # A key is what one types after --set: it keeps its width and is never broken
        # (`data.sources[1].max_toke` / `ns` read as two keys); the values, often paths,
        # share what is left and wrap. Only a key wider than the terminal less room for
        # two short values still folds, as nothing else would show it whole either.
        longest = max(len(row["key"]) for row in result["config"])
        fits = longest <= console.width - KEY_ROOM_FOR_VALUES
        table.add_column("key", no_wrap=fits, min_width=longest if fits else None,
                         overflow="fold")
        for name in ("A", "B"):
            table.add_column(name, overflow="fold", ratio=1)
        for row in result["config"]:
            table.add_row(row["key"], _setting(row["a"]), _setting(row["b"]))
        console.print(table)
    else:
        console.print("the resolved configs are the same")
    table = Table(title="metrics", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("metric", no_wrap=True)     # a dotted name, as `--json` spells it
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    for name, pair in result["metrics"].items():
        table.add_row(name, _metric(pair["a"]), _metric(pair["b"]))
    console.print(table)
