"""Rich rendering of `redheart validate`: model and baselines side by side."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

ROWS = (("emotion", "macro_f1", "emotion macro-F1", True),
        ("regret", "mae", "regret MAE", False),
        ("regret", "pearson", "regret Pearson r", True),
        ("regret", "binarized_f1", "regret WRONG F1", True),
        ("bentham", "pairwise_accuracy", "hedonic pairwise acc.", True),
        ("surd", "mse", "SURD MSE", False))


def _figure(value: float) -> str:
    """Three decimals, or four significant digits for small values (SURD MSE ~0.008),
    so that model and baseline never print the same when they differ."""
    return f"{value:.3f}" if abs(value) >= 0.1 or value == 0 else f"{value:.4g}"


def print_validation(result: dict[str, Any], title: str, console: Console | None = None) -> None:
    table = Table(title=title)
    for column in ("metric", "model", "prior", "probe"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    metrics, base = result["metrics"], result["baselines"]
    for task, key, label, higher in ROWS:
        if task not in metrics:
            continue
        model = metrics[task][key]
        cells = [_figure(model)]
        for kind in ("prior", "probe"):
            value = base[kind].get(task, {}).get(key)
            cells.append("-" if value is None else _figure(value))
        table.add_row(f"{label} ({'higher' if higher else 'lower'} is better)", *cells)
    if "emotion" in metrics:
        per_class = "  ".join(f"{k} {v:.2f}" for k, v in metrics["emotion"]["f1"].items())
        table.caption = f"per-class F1: {per_class}"
    console = console or Console()
    console.print(table)
    untrained = result.get("untrained_outputs")
    if untrained is None:
        console.print("trained outputs: not recorded (a checkpoint from before they were "
                      "counted)")
    elif untrained:
        console.print(f"untrained outputs (no labelled row, not predictions; predict hides "
                      f"them): {', '.join(untrained)}")
    else:
        console.print("every output was trained on labelled rows")
