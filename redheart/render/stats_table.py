"""Rich rendering of `redheart data stats`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _r(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def print_stats(stats: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    for source in stats["sources"]:
        table = Table(title=f"{source['kind']}: {source['path']}", title_justify="left")
        table.add_column("task")
        table.add_column("labelled", justify="right")
        table.add_column("distribution")
        for task, info in source["tasks"].items():
            if task == "emotion":
                detail = "  ".join(f"{k} {v:.1%}" for k, v in info["class_freq"].items())
            elif task == "surd":
                detail = "mean " + "  ".join(f"{k} {v:.2f}" for k, v in info["mean"].items())
                if info.get("r_log_votes"):
                    detail += "\nr with log(votes) " + "  ".join(
                        f"{k} {_r(v)}" for k, v in info["r_log_votes"].items())
            elif task == "regret":
                detail = f"mean {info['mean']:.2f}  p10 {info['p10']:.2f}  p50 " \
                         f"{info['p50']:.2f}  p90 {info['p90']:.2f}"
            else:
                hv = info.get("hedonic_value")
                detail = f"dims on {info['with_dims']}, pairs {info['pairs']}" + (
                    f"  hedonic mean {hv['mean']:+.2f} p10 {hv['p10']:+.2f} p90 {hv['p90']:+.2f}"
                    if hv else "")
            table.add_row(task, str(info["count"]), detail)
        tokens = source["tokens"]
        table.caption = (f"{source['rows']} rows, {source['bad_rows']} bad; tokens p50 "
                         f"{tokens['p50']}, p90 {tokens['p90']}, p99 {tokens['p99']}, "
                         f"max {tokens['max']}; read {tokens['max_tokens']} "
                         f"({tokens['truncation']}): {tokens['cut']:.0%} cut")
        console.print(table)
