"""Rich rendering of `redheart data stats`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from redheart.render.stdout_console import stdout_console


def _r(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def print_stats(stats: dict[str, Any], console: Console | None = None) -> None:
    """Per source: its name line, the task table, then a line of row and token counts.

    The name and the counts are lines of their own, not the table's title and caption,
    which Rich wraps to the table's width: a narrow table (a source with one task) cut
    its own path in two. The name line is not wrapped at all (a path longer than the
    console was folded onto two lines in a piped listing)."""
    console = console or stdout_console()
    for number, source in enumerate(stats["sources"]):
        if number:
            console.print()
        # soft_wrap: Rich inserts no line break, so `| cat`, a log or a narrow terminal
        # (which wraps it for the eye only) still hands over the whole path to copy
        console.print(Text(f"{source['kind']}: {source['path']}", style="bold"),
                      soft_wrap=True)
        table = Table()
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
        counts = (f"{source['rows']} rows ({source['bad_rows']} bad); tokens p50 "
                  f"{tokens['p50']}, p90 {tokens['p90']}, p99 {tokens['p99']}, max "
                  f"{tokens['max']}; {tokens['cut']:.0%} cut at {tokens['max_tokens']} "
                  f"({tokens['truncation']})")
        console.print(table)
        console.print(Text(counts, style="dim"))
        if "split" in source:
            console.print(Text(_split_line(source), style="dim"))


def _split_line(source: dict[str, Any]) -> str:
    """What a run does with the source's rows: train on them (less those held out for
    dev), evaluate on them, or keep them for `validate --split test`."""
    if source["split"] == "dev":
        return "split dev: evaluated on, picks the best checkpoint; never trained on"
    if source["split"] == "test":
        return "split test: never trained on; read by `redheart validate --split test`"
    held = source.get("held_out", 0)
    if not held:
        return f"split train: all {source['rows']} rows trained on"
    return (f"split train: {source['rows'] - held} rows trained on, {held} held out for dev "
            f"([data] eval_fraction)")
