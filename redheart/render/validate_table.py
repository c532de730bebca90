"""Rich rendering of `redheart validate`: model, prior and probe with their intervals."""

from __future__ import annotations

import math
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from redheart.render.stdout_console import stdout_console

ROWS = (("emotion", "macro_f1", "emotion macro-F1, multi-label p>=0.3", True),
        ("emotion", "single_label_accuracy", "emotion accuracy, single-label rows", True),
        ("emotion", "single_label_macro_f1", "emotion macro-F1, single-label rows", True),
        ("regret", "mae", "regret MAE", False),
        ("regret", "pearson", "regret Pearson r", True),
        ("regret", "binarized_f1", "regret WRONG F1", True),
        ("bentham", "pairwise_accuracy", "hedonic pairwise accuracy", True),
        ("surd", "mse", "SURD MSE", False))


def row_decimals(values: list[float]) -> int:
    """Decimals that give the row's largest value three significant digits (three at the
    least): one row (model, baselines, bounds) is read across, so it shares one format,
    and SURD MSE (~0.01) still tells 0.0106 from 0.0107."""
    largest = max((abs(v) for v in values if v and math.isfinite(v)), default=0.0)
    if largest == 0 or largest >= 0.1:
        return 3
    return 3 + math.floor(-math.log10(largest))


def _cell(value: float | None, interval: list[float] | None, decimals: int) -> str:
    if value is None:
        return "undefined"
    if interval is None:
        return f"{value:.{decimals}f}"
    low, high = interval
    return f"{value:.{decimals}f}\n\\[{low:.{decimals}f}, {high:.{decimals}f}]"


def _notes(result: dict[str, Any]) -> list[str]:
    """What the numbers are computed on and how, under the table."""
    lines = []
    counts = result.get("counts")
    if counts:
        lines.append(f"{result.get('split', 'dev')} split: {counts['emotion']} emotion rows "
                     f"({counts['emotion_single_label']} single-label), {counts['regret']} "
                     f"regret rows, {counts['bentham']} dilemma pairs, {counts['surd']} SURD "
                     f"rows")
    boot = result.get("bootstrap")
    if boot:
        lines.append(f"\\[low, high]: {boot['level']:.0%} {boot['method']} bootstrap interval, "
                     f"{boot['resamples']:,} resamples of the rows, seed {boot['seed']}; "
                     f"beats both: the model's interval clears both baselines' intervals")
    if "emotion" in result["metrics"]:
        f1 = result["metrics"]["emotion"]["f1"]
        per_class = "  ".join(f"{k} {v:.2f}" for k, v in f1.items())
        lines.append(f"model per-class F1 (multi-label): {per_class}")
    if "regret" in result["metrics"] and "regret_threshold" in result:
        probe = result.get("probe_regret_threshold")
        probe_text = f", probe's > {probe:.3f}" if isinstance(probe, float) else ""
        prior = result.get("prior_says_wrong")
        prior_text = ("" if prior is None
                      else f", the prior's: {'every' if prior else 'no'} row WRONG")
        lines.append(f"WRONG decision: model's regret > {result['regret_threshold']:.3f}"
                     f"{probe_text}{prior_text} (each fitted on its training rows); prior "
                     f"Pearson r is undefined (a constant), so the model must be above 0")
    subsampled = [f"{task} {rows['used']:,} of {rows['of']:,}"
                  for task, rows in result.get("probe_rows", {}).items()
                  if rows["used"] < rows["of"]]
    if subsampled:
        lines.append(f"probe fitted on a fixed-seed sample of the training rows: "
                     f"{', '.join(subsampled)}")
    picked, kept = [], []
    for task, chosen in result.get("probe_penalty", {}).items():
        text = ", ".join(f"{task} {name} {value:g}" for name, value in chosen.items()
                         if name != "judged_on")
        (picked if chosen.get("judged_on") else kept).append(text)
    if picked:
        lines.append(f"probe penalties, picked on a held fifth of the training rows: "
                     f"{', '.join(picked)}")
    if kept:     # too few training rows to judge candidates on (probe_penalty.MIN_HELD_ROWS)
        lines.append(f"probe penalties left at scikit-learn's default (too few training rows "
                     f"to pick one): {', '.join(kept)}")
    return lines


def print_validation(result: dict[str, Any], title: str, console: Console | None = None) -> None:
    """The table of `redheart validate`; a result without intervals (an older --json)
    prints its values alone."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("metric", min_width=16)
    for column in ("model", "prior", "probe"):
        table.add_column(column, justify="right")
    table.add_column("beats\nboth", justify="center")
    metrics, base = result["metrics"], result["baselines"]
    intervals = result.get("intervals", {})
    verdicts = result.get("beats_baselines", {})
    for task, key, label, higher in ROWS:
        if key not in metrics.get(task, {}):
            continue
        shown = {"model": (metrics[task][key],
                           intervals.get("model", {}).get(task, {}).get(key))}
        for kind in ("prior", "probe"):
            if key in base[kind].get(task, {}):
                shown[kind] = (base[kind][task][key],
                               intervals.get(kind, {}).get(task, {}).get(key))
        decimals = row_decimals([v for value, bounds in shown.values()
                                 for v in (value, *(bounds or ())) if v is not None])
        cells = [_cell(*shown[kind], decimals) if kind in shown else "-"
                 for kind in ("model", "prior", "probe")]
        verdict = verdicts.get(task, {}).get(key)
        cells.append("-" if verdict is None else "yes" if verdict else "no")
        table.add_row(f"{label} {'↑' if higher else '↓'}", *cells)
    console = console or stdout_console()
    console.print(table)
    for line in _notes(result):
        console.print(line)
    untrained = result.get("untrained_outputs")
    if untrained is None:
        console.print("trained outputs: not recorded (a checkpoint from before they were "
                      "counted)")
    elif untrained:
        console.print(f"untrained outputs (no labelled row, not predictions; predict hides "
                      f"them): {', '.join(untrained)}")
    else:
        console.print("every output was trained on labelled rows")

