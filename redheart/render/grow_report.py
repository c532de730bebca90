"""Rich rendering of `redheart grow`: sizes, where it wrote, and the exactness table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from redheart.render.stdout_console import stdout_console


def print_deltas(report: dict[str, Any], console: Console | None = None) -> None:
    """max |delta| per output key of `--verify`, failures marked."""
    console = console or stdout_console()
    tolerance = report["tolerance"]
    table = Table(title=f"grown vs small: fp32, dropout off, {report['verify_batches']} "
                        f"real batches")
    table.add_column("output", no_wrap=True)
    table.add_column("max |delta|", justify="right")
    table.add_column(f"<= {tolerance:g}", justify="center")
    for key, delta in sorted(report["deltas"].items()):
        table.add_row(key, f"{delta:.3g}", "ok" if delta <= tolerance else "FAIL",
                      style=None if delta <= tolerance else "bold red")
    console.print(table)
    console.print(f"max |delta| over all outputs: {max(report['deltas'].values()):.3g}")


def print_grown(report: dict[str, Any], console: Console | None = None) -> None:
    """Parameters before and after, and what was written where."""
    console = console or stdout_console()
    console.print(f"grew {report['source']}: {report['params_before'] / 1e6:,.2f}M -> "
                  f"{report['params_after'] / 1e6:,.2f}M parameters (factor {report['factor']}, "
                  f"noise {_noise(report['noise_db'])}, new layers {report['new_layers']})",
                  soft_wrap=True)
    console.print(f"checkpoint: {report['checkpoint']}", soft_wrap=True)
    console.print(f"profile:    {report['profile']} (train with: redheart run "
                  f"{report['profile']})", soft_wrap=True)


def _noise(snr_db: float | None) -> str:
    return "off" if snr_db is None else f"{snr_db:g} dB SNR"
