"""Rich rendering of `redheart summary`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from redheart.render.stdout_console import stdout_console


def print_summary(summary: dict[str, Any], title: str, console: Console | None = None) -> None:
    """Module table with params in millions; disabled rows dimmed."""
    table = Table(title=title, show_footer=True)
    total = summary["total_params"]
    table.add_column("module", footer="total (enabled)", no_wrap=True)
    table.add_column("group")
    table.add_column("params", justify="right", footer=f"{total / 1e6:,.2f}M")
    table.add_column("share", justify="right")
    table.add_column("essential", justify="center")
    table.add_column("on", justify="center")
    for row in summary["modules"]:
        share = f"{100 * row['params'] / total:.1f}%" if row["enabled"] else "-"
        table.add_row(row["name"], row["group"], f"{row['params'] / 1e6:,.2f}M", share,
                      "yes" if row["essential"] else "", "yes" if row["enabled"] else "off",
                      style=None if row["enabled"] else "dim")
    (console or stdout_console()).print(table)
